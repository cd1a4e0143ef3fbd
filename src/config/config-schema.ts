/** JSON Schema of the sites file (YAML or JSON); see examples/sites.yaml for a commented example. */
export const SITES_FILE_SCHEMA = {
  $id: 'urn:srcnet:execution-broker:config:sites',
  type: 'object',
  additionalProperties: false,
  required: ['sites'],
  $defs: {
    perGpuModel: {
      type: 'object',
      propertyNames: { pattern: '^([A-Za-z0-9][A-Za-z0-9_.-]{0,62}|\\*)$' },
      additionalProperties: { type: 'number', minimum: 0 },
    },
    size: {
      oneOf: [
        { type: 'integer', minimum: 0 },
        { type: 'string', pattern: '^[0-9]+(\\.[0-9]+)? ?([KMGT]i?B|B)?$' },
      ],
    },
  },
  properties: {
    broker: {
      type: 'object',
      additionalProperties: false,
      properties: {
        maxOffers: { type: 'integer', minimum: 1, maximum: 16 },
        offerLifetime: { type: 'string' },
        provisionLifetime: { type: 'string' },
        negotiationTimeout: { type: 'string' },
        retention: { type: 'string' },
      },
    },
    // SRCNet's Data Management API, where SKAO data without replicas is located; see docs/operations.md.
    dataManagement: {
      type: 'object',
      additionalProperties: false,
      required: ['url'],
      properties: {
        url: { type: 'string', pattern: '^https?://[^/\\s]+(/\\S*)?$' },
        audience: { type: 'string', minLength: 1 },
        scope: { type: 'string', minLength: 1 },
        egressAllow: { type: 'array', items: { type: 'string', minLength: 1, maxLength: 253 } },
      },
    },
    // Bearer tokens from an OpenID provider; see docs/operations.md. Environment variables override.
    auth: {
      type: 'object',
      additionalProperties: false,
      properties: {
        issuer: { type: 'string', minLength: 1 },
        audience: { type: 'string', minLength: 1 },
        scopes: { type: 'array', items: { type: 'string', pattern: '^\\S+$' } },
        groupsClaim: { type: 'string', minLength: 1 },
        operatorGroup: { type: 'string', minLength: 1 },
        requiredGroups: { type: 'array', items: { type: 'string', minLength: 1 } },
        clientId: { type: 'string', minLength: 1 },
        clientSecret: { type: 'string', minLength: 1 },
        introspection: { type: 'boolean' },
        clockTolerance: { type: 'string' },
        jwksCooldown: { type: 'string' },
      },
    },
    sites: {
      type: 'array',
      minItems: 1,
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['name', 'cores', 'memoryGiB'],
        properties: {
          name: { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$' },
          cores: { type: 'integer', minimum: 1, maximum: 10_000_000 },
          memoryGiB: { type: 'integer', minimum: 1, maximum: 1_000_000_000 },
          scratchGiB: { type: 'integer', minimum: 0, maximum: 1_000_000_000_000 },
          gpus: { type: 'object', propertyNames: { pattern: '^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$' }, additionalProperties: { type: 'integer', minimum: 0, maximum: 1_000_000 } },
          maxCoresPerSession: { type: 'integer', minimum: 1 },
          maxMemoryGiBPerSession: { type: 'integer', minimum: 1 },
          executables: { type: 'array', items: { enum: ['docker-container', 'singularity-container', 'jupyter-notebook'] }, uniqueItems: true },
          architectures: { type: 'array', items: { type: 'string', minLength: 1 }, uniqueItems: true },
          operatingSystems: { type: 'array', items: { type: 'string', minLength: 1 }, uniqueItems: true },
          dataSchemes: { type: 'array', items: { type: 'string', pattern: '^[a-z][a-z0-9+.-]*$' }, uniqueItems: true },
          fileRoots: { type: 'array', items: { type: 'string', pattern: '^/' } },
          egressAllow: { type: 'array', items: { type: 'string', minLength: 1, maxLength: 253 } },
          fairShare: {
            type: 'object',
            additionalProperties: false,
            properties: {
              coreHours: { type: 'number', minimum: 0 },
              gpuHours: { type: 'number', minimum: 0 },
              offerSets: { type: 'integer', minimum: 0 },
            },
          },
          maxDuration: { type: 'string' },
          horizon: { type: 'string' },
          preparation: { type: 'string' },
          releasing: { type: 'string' },
          locations: { type: 'array', items: { type: 'string', minLength: 1 }, uniqueItems: true },
          storageElements: {
            type: 'array',
            items: {
              type: 'object',
              additionalProperties: false,
              required: ['name'],
              properties: {
                name: { type: 'string', minLength: 1 },
                hosts: { type: 'array', items: { type: 'string', minLength: 1 } },
                bandwidthMBps: { type: 'number', exclusiveMinimum: 0 },
                local: { type: 'boolean' },
              },
            },
          },
          defaultBandwidthMBps: { type: 'number', exclusiveMinimum: 0 },
          scratchDir: { type: 'string', pattern: '^/' },
          publicHost: { type: 'string', pattern: '^[A-Za-z0-9.:\\[\\]-]{1,253}$' },
          // How process runs (no container runtime) are contained; see docs/operations.md, "Running other people's code".
          isolation: { enum: ['sandbox', 'none', 'auto'] },
          network: { enum: ['egress', 'none'] },
          runUid: { type: 'integer', minimum: 1, maximum: 4_294_967_294 },
          // Sizes in bytes, or with a unit: 512MiB, 10GiB, 2GB.
          limits: {
            type: 'object',
            additionalProperties: false,
            properties: {
              processesPerRun: { type: 'integer', minimum: 8, maximum: 1_000_000 },
              outputBytes: { $ref: '#/$defs/size' },
              logBytes: { $ref: '#/$defs/size' },
              servedLogBytes: { $ref: '#/$defs/size' },
              retention: { type: 'string' },
            },
          },
          // What offers quote and ended sessions report (docs/operations.md, "Prices, power and carbon").
          pricing: {
            type: 'object',
            additionalProperties: false,
            properties: {
              currency: { type: 'string', pattern: '^[A-Za-z]{1,12}$' },
              coreHour: { type: 'number', minimum: 0 },
              memoryGiBHour: { type: 'number', minimum: 0 },
              storageGiBHour: { type: 'number', minimum: 0 },
              gpuHour: { oneOf: [{ type: 'number', minimum: 0 }, { $ref: '#/$defs/perGpuModel' }] },
            },
          },
          power: {
            type: 'object',
            additionalProperties: false,
            properties: {
              coreWatts: { type: 'number', minimum: 0 },
              idleCoreWatts: { type: 'number', minimum: 0 },
              gpuWatts: { oneOf: [{ type: 'number', minimum: 0 }, { $ref: '#/$defs/perGpuModel' }] },
            },
          },
          carbon: {
            type: 'object',
            additionalProperties: false,
            properties: {
              gramsPerKWh: { type: 'number', minimum: 0 },
              hourly: { type: 'array', minItems: 24, maxItems: 24, items: { type: 'number', minimum: 0 } },
              forecastFile: { type: 'string', pattern: '^/' },
            },
          },
          performance: {
            type: 'object',
            additionalProperties: false,
            properties: {
              compute: { type: 'number', exclusiveMinimum: 0 },
              ioMBps: { type: 'number', exclusiveMinimum: 0 },
            },
          },
          // How long staging may go without a byte before a session past its planned preparation fails (default PT1M).
          stagingStall: { type: 'string' },
          // Credentials per S3 endpoint, given to the site's downloader on its stdin only; each key inline or in a file.
          s3: {
            type: 'array',
            items: {
              type: 'object',
              additionalProperties: false,
              required: ['endpoint'],
              properties: {
                endpoint: { type: 'string', pattern: '^https?://[^/\\s]+(/\\S*)?$' },
                region: { type: 'string', pattern: '^[a-z0-9-]{1,64}$' },
                accessKeyId: { type: 'string', minLength: 1 },
                secretAccessKey: { type: 'string', minLength: 1 },
                accessKeyIdFile: { type: 'string', pattern: '^/' },
                secretAccessKeyFile: { type: 'string', pattern: '^/' },
              },
            },
          },
          // Which SRCNet Site Capabilities compute (and queue) this site is: ids or names (docs/operations.md).
          siteCapabilities: {
            type: 'object',
            additionalProperties: false,
            required: ['compute'],
            properties: {
              site: { type: 'string', minLength: 1, maxLength: 256 },
              compute: { type: 'string', minLength: 1, maxLength: 256 },
              queue: { type: 'string', minLength: 1, maxLength: 256 },
            },
          },
          tokenExchange: {
            type: 'object',
            additionalProperties: false,
            required: ['audience'],
            properties: {
              audience: { type: 'string', minLength: 1 },
              scope: { type: 'string', minLength: 1 },
              hosts: { type: 'array', items: { type: 'string', minLength: 1 } },
            },
          },
          executor: {
            type: 'object',
            required: ['type'],
            oneOf: [
              {
                additionalProperties: false,
                properties: {
                  type: { const: 'local' },
                  containerRuntime: { enum: ['docker', 'podman', 'apptainer', 'none', 'auto'] },
                  jupyterImage: { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9._\\-/:@+]{0,511}$' },
                  developmentImages: {
                    type: 'object',
                    additionalProperties: {
                      type: 'object', required: ['entrypoint'], additionalProperties: false,
                      properties: { entrypoint: { type: 'string', minLength: 1 }, command: { type: 'array', items: { type: 'string' } } },
                    },
                  },
                  gpuDevices: {
                    type: 'object',
                    propertyNames: { pattern: '^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$' },
                    additionalProperties: { type: 'array', uniqueItems: true, maxItems: 1024, items: { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$' } },
                  },
                },
              },
              {
                additionalProperties: false,
                properties: {
                  type: { const: 'slurm' },
                  partition: { type: 'string', pattern: '^[A-Za-z0-9_.,-]+$' },
                  account: { type: 'string', pattern: '^[A-Za-z0-9_.-]+$' },
                  commands: {
                    type: 'object',
                    additionalProperties: false,
                    properties: { sbatch: { type: 'string', minLength: 1 }, squeue: { type: 'string', minLength: 1 }, sacct: { type: 'string', minLength: 1 }, scancel: { type: 'string', minLength: 1 } },
                  },
                  slurmConf: { type: 'string', pattern: '^/' },
                },
              },
            ],
          },
        },
      },
    },
  },
} as const;
