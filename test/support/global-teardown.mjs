export default async function globalTeardown() {
  globalThis.__EB_TEST_REDIS__?.kill('SIGTERM');
}
