import { defaultSiteLimits, type SiteProfile } from '../../src/domain/site-profile.js';

/**
 * A site profile with nothing but capacity: docker only, no data, no GPUs unless given, a local
 * executor that is never run. The planner's property tests build their sites from it.
 */
export function plainSite(overrides: Partial<SiteProfile> & Pick<SiteProfile, 'cores' | 'memoryGiB'>): SiteProfile {
  return {
    name: 'prop', scratchGiB: 100, gpus: {},
    maxCoresPerSession: overrides.cores, maxMemoryGiBPerSession: overrides.memoryGiB,
    executableKinds: ['executable/docker-container'], architectures: ['amd64'], operatingSystems: ['linux'],
    dataSchemes: ['https'], fileRoots: [], maxDurationMs: 6 * 3600_000, horizonMs: 24 * 3600_000,
    preparationMs: 30_000, releasingMs: 20_000,
    locations: [], storageElements: [], defaultBandwidthMBps: 100, executor: { type: 'local' }, scratchDir: '/tmp/unused',
    processRuns: { isolation: 'sandbox', network: 'none', runUid: 65534, processesPerRun: 256 },
    limits: defaultSiteLimits(100),
    ...overrides,
  };
}
