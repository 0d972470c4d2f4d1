/**
 * postgresql.mode: bundled (the chart's StatefulSet), external (externalDatabase; postgresql.enabled false is the
 * older spelling) and cloudnative-pg (a CloudNativePG Cluster whose <name>-app Secret every service and the
 * migration read). Each keeps the database TLS settings and the services' own role working. chart-apiserver.test.ts
 * dry-runs the ci/ files against CloudNativePG's own CRDs.
 */
import { CHART_DIR, ciValues, configOf, findObject, renderChart, renderFailure, runTool, type K8sObject } from '../helpers/helm';

type Env = { name: string; value?: string; valueFrom?: { secretKeyRef?: { name: string; key: string } } };
const envOf = (workload: K8sObject, container = 0): Env[] => workload.spec.template.spec.containers[container].env;
/** The env of a container as name -> "secret/key" or the literal value. */
const sources = (env: Env[]) => Object.fromEntries(env.map((e) => [e.name, e.valueFrom?.secretKeyRef ? `${e.valueFrom.secretKeyRef.name}/${e.valueFrom.secretKeyRef.key}` : e.value]));
const kinds = (objects: K8sObject[]) => objects.map((object) => `${object.kind}/${object.metadata.name}`);

describe('mode bundled', () => {
  it('is the default and runs the StatefulSet, its Service and NetworkPolicy; an explicit mode renders the same', () => {
    const defaults = renderChart();
    const explicit = renderChart({ set: { 'postgresql.mode': 'bundled' } });
    for (const objects of [defaults, explicit]) {
      expect(kinds(objects)).toEqual(expect.arrayContaining([
        'StatefulSet/tm-taskmaster-postgres', 'Service/tm-taskmaster-postgres', 'NetworkPolicy/tm-taskmaster-postgres',
      ]));
      expect(kinds(objects).some((kind) => kind.startsWith('Cluster/'))).toBe(false);
      expect(configOf(objects)).toMatchObject({ POSTGRES_HOST: 'tm-taskmaster-postgres', POSTGRES_USER: 'taskmaster' });
    }
  });

  it('gives the services their own role from the generated Secret, and the migration the owner and that role to grant', () => {
    const objects = renderChart({ valuesFiles: [ciValues('bundled-postgres')] });
    expect(configOf(objects).POSTGRES_USER).toBe('taskmaster_app');
    expect(sources(envOf(findObject(objects, 'Deployment', 'tm-taskmaster-coordinator')))).toMatchObject({ POSTGRES_PASSWORD: 'tm-taskmaster-postgres/service-password' });
    expect(sources(envOf(findObject(objects, 'Job', 'tm-taskmaster-migrate')))).toMatchObject({
      POSTGRES_USER: 'taskmaster', MIGRATE_GRANT_ROLE: 'taskmaster_app',
      POSTGRES_PASSWORD: 'tm-taskmaster-postgres/postgres-password', MIGRATE_GRANT_ROLE_PASSWORD: 'tm-taskmaster-postgres/service-password',
    });
    expect(findObject(objects, 'StatefulSet', 'tm-taskmaster-postgres').spec.volumeClaimTemplates[0].spec.storageClassName).toBe('csi-snapshot-capable');
  });
});

describe('mode external', () => {
  it('renders the same with mode external as with the older postgresql.enabled false', () => {
    const set = { 'externalDatabase.host': 'db.example.com', 'externalDatabase.existingSecret': 'db', 'externalDatabase.tls.sslMode': 'verify-full', 'externalDatabase.tls.caSecret': 'db-ca' };
    const byMode = renderChart({ set: { ...set, 'postgresql.mode': 'external' } });
    const byAlias = renderChart({ set: { ...set, 'postgresql.enabled': false } });
    expect(byMode).toEqual(byAlias);
    expect(kinds(byMode).filter((kind) => kind.endsWith('-postgres'))).toEqual([]);
    expect(configOf(byMode)).toMatchObject({ POSTGRES_HOST: 'db.example.com', DATABASE_SSLMODE: 'verify-full', DATABASE_SSL_CA: '/etc/taskmaster/database-tls/ca.crt' });
  });

  it('needs the credentials Secret in either spelling (values.schema.json)', () => {
    for (const set of [{ 'postgresql.mode': 'external' }, { 'postgresql.enabled': false }] as Array<Record<string, string | boolean>>) {
      expect(renderFailure({ set: { ...set, 'externalDatabase.host': 'db' } })).toContain('externalDatabase.existingSecret');
    }
  });

  it('lets an explicit mode win over the older switch', () => {
    expect(kinds(renderChart({ set: { 'postgresql.mode': 'bundled', 'postgresql.enabled': false } }))).toContain('StatefulSet/tm-taskmaster-postgres');
  });
});

describe('mode cloudnative-pg', () => {
  const objects = renderChart({ valuesFiles: [ciValues('cloudnative-pg')] });
  const cluster = findObject(objects, 'Cluster', 'tm-taskmaster-postgres');

  it('renders a Cluster instead of the StatefulSet: instances, owner and database, storage, parameters, the services\' managed role', () => {
    expect(kinds(objects).filter((kind) => /^(StatefulSet|Secret|NetworkPolicy|Service)\/tm-taskmaster-postgres$/.test(kind))).toEqual([]);
    expect(cluster.apiVersion).toBe('postgresql.cnpg.io/v1');
    expect(cluster.spec).toMatchObject({
      instances: 3,
      imageName: 'ghcr.io/cloudnative-pg/postgresql:17.6',
      bootstrap: { initdb: { database: 'taskmaster', owner: 'taskmaster' } },
      storage: { size: '20Gi' },
      postgresql: { parameters: { max_connections: '200' } },
      managed: { roles: [{ name: 'taskmaster_app', ensure: 'present', login: true, passwordSecret: { name: 'taskmaster-database-app' } }] },
    });
  });

  it('wires the operator\'s <name>-app Secret into the migration, and the managed role\'s Secret into the services', () => {
    const app = (key: string) => `tm-taskmaster-postgres-app/${key}`;
    const migrate = findObject(objects, 'Job', 'tm-taskmaster-migrate');
    for (const env of [envOf(migrate), migrate.spec.template.spec.initContainers[0].env]) {
      expect(sources(env)).toMatchObject({
        POSTGRES_HOST: app('host'), POSTGRES_PORT: app('port'), POSTGRES_DB: app('dbname'), POSTGRES_USER: app('user'), POSTGRES_PASSWORD: app('password'),
        MIGRATE_GRANT_ROLE: 'taskmaster_app',
      });
      // The operator creates the role: the migration only grants it.
      expect(Object.keys(sources(env))).not.toContain('MIGRATE_GRANT_ROLE_PASSWORD');
    }
    for (const name of ['tm-taskmaster-scheduler', 'tm-taskmaster-coordinator']) {
      expect(sources(envOf(findObject(objects, 'Deployment', name)))).toMatchObject({
        POSTGRES_HOST: app('host'), POSTGRES_PORT: app('port'), POSTGRES_DB: app('dbname'),
        POSTGRES_USER: 'taskmaster-database-app/username', POSTGRES_PASSWORD: 'taskmaster-database-app/password',
      });
    }
    // Nothing in the ConfigMap would point elsewhere: the Secret is the only source of the connection.
    expect(Object.keys(configOf(objects)).filter((key) => key.startsWith('POSTGRES_') || key === 'DATABASE_URL')).toEqual([]);
  });

  it('connects with verify-full against the operator\'s CA, mounted in the scheduler, the coordinator and the migration', () => {
    expect(configOf(objects)).toMatchObject({ DATABASE_SSLMODE: 'verify-full', DATABASE_SSL_CA: '/etc/taskmaster/database-tls/ca.crt' });
    for (const workload of [findObject(objects, 'Deployment', 'tm-taskmaster-scheduler'), findObject(objects, 'Deployment', 'tm-taskmaster-coordinator'), findObject(objects, 'Job', 'tm-taskmaster-migrate')]) {
      expect(workload.spec.template.spec.volumes).toContainEqual({ name: 'database-tls', secret: { secretName: 'tm-taskmaster-postgres-ca', items: [{ key: 'ca.crt', path: 'ca.crt' }] } });
    }
    const own = configOf(renderChart({ valuesFiles: [ciValues('cloudnative-pg')], set: { 'postgresql.cnpg.tls.caSecret': 'corporate-ca', 'postgresql.cnpg.tls.sslMode': 'verify-ca' } }));
    expect(own.DATABASE_SSLMODE).toBe('verify-ca');
  });

  it('backs up to object storage with barman-cloud, on a schedule, and can do without', () => {
    expect(cluster.spec.backup).toMatchObject({ retentionPolicy: '30d', barmanObjectStore: { destinationPath: 's3://taskmaster-backups/', wal: { compression: 'gzip' } } });
    expect(findObject(objects, 'ScheduledBackup', 'tm-taskmaster-postgres').spec).toEqual({
      cluster: { name: 'tm-taskmaster-postgres' }, schedule: '0 0 2 * * *', method: 'barmanObjectStore', backupOwnerReference: 'self',
    });
    const bare = renderChart({ set: { 'postgresql.mode': 'cloudnative-pg' } });
    expect(findObject(bare, 'Cluster', 'tm-taskmaster-postgres').spec.backup).toBeUndefined();
    expect(kinds(bare).some((kind) => kind.startsWith('ScheduledBackup/'))).toBe(false);
    // Without a role of their own the services log in as the owner, from the operator's Secret.
    expect(sources(envOf(findObject(bare, 'Deployment', 'tm-taskmaster-coordinator')))).toMatchObject({ POSTGRES_USER: 'tm-taskmaster-postgres-app/user' });
  });

  it('refuses a services\' role without its Secret, and a backup schedule without an object store', () => {
    const refused = (set: string[]) => runTool('helm', ['template', 'tm', CHART_DIR, '--set', 'postgresql.mode=cloudnative-pg', ...set.flatMap((pair) => ['--set', pair])]);
    expect(refused(['postgresql.auth.serviceUsername=app']).stderr).toContain('needs postgresql.cnpg.serviceRoleSecret');
    expect(refused(['postgresql.cnpg.backup.schedule=0 0 2 * * *']).stderr).toContain('needs postgresql.cnpg.backup.barmanObjectStore');
    expect(refused(['postgresql.mode=cnpg']).stderr).toContain('postgresql.mode');
  });
});
