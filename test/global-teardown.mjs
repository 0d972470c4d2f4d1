export default async function globalTeardown() {
  await globalThis.__TASKMASTER_PG__?.stop();
}
