// Creates the bundled PostgreSQL's password Secret once, in the cluster, and never changes a key it holds.
// The chart cannot render a generated password: `helm template` (Argo CD, kubectl apply) would render a new one
// every time, and the services would be locked out of the volume initdb made with the first. Run by the
// postgres-password Job (templates/postgres/postgres-password-job.yaml) with its ServiceAccount's token.
//
// Environment: SECRET_NAME, SECRET_KEYS (comma-separated keys, each a 32-character password), SECRET_LABELS
// (JSON), KUBERNETES_SERVICE_HOST and _PORT; SERVICE_ACCOUNT_DIR (default: the mounted token's directory).
'use strict';
const { readFileSync } = require('node:fs');
const { request } = require('node:https');
const { randomInt } = require('node:crypto');

const dir = process.env.SERVICE_ACCOUNT_DIR || '/var/run/secrets/kubernetes.io/serviceaccount';
const token = readFileSync(`${dir}/token`, 'utf8').trim();
const ca = readFileSync(`${dir}/ca.crt`);
const namespace = readFileSync(`${dir}/namespace`, 'utf8').trim();
const name = process.env.SECRET_NAME;
const keys = (process.env.SECRET_KEYS || '').split(',').filter(Boolean);
const labels = JSON.parse(process.env.SECRET_LABELS || '{}');
const collection = `/api/v1/namespaces/${encodeURIComponent(namespace)}/secrets`;

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
const generate = () => Buffer.from(Array.from({ length: 32 }, () => ALPHABET[randomInt(ALPHABET.length)]).join('')).toString('base64');

function call(method, path, body, contentType = 'application/json') {
  return new Promise((resolve, reject) => {
    const req = request({
      host: process.env.KUBERNETES_SERVICE_HOST,
      port: process.env.KUBERNETES_SERVICE_PORT,
      method,
      path,
      ca,
      headers: { authorization: `Bearer ${token}`, accept: 'application/json', 'content-type': contentType },
    }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk) => { text += chunk; });
      res.on('end', () => resolve({ status: res.statusCode, body: text.startsWith('{') ? JSON.parse(text) : { message: text } }));
    });
    req.on('error', reject);
    req.end(body === undefined ? undefined : JSON.stringify(body));
  });
}

const refused = (what, response) => new Error(`${what} Secret ${namespace}/${name}: HTTP ${response.status} ${response.body.message ?? ''}`);

async function main() {
  if (!name || keys.length === 0) throw new Error('SECRET_NAME and SECRET_KEYS are required');
  // A concurrent run (a retried pod, a second sync) may create or patch it between our read and write: the
  // create answers 409 and the patch, carrying the resourceVersion read, 409 too; then read it again.
  for (let attempt = 1; attempt <= 5; attempt++) {
    const current = await call('GET', `${collection}/${name}`);
    if (current.status === 404) {
      const data = Object.fromEntries(keys.map((key) => [key, generate()]));
      const created = await call('POST', collection, { apiVersion: 'v1', kind: 'Secret', metadata: { name, labels }, type: 'Opaque', data });
      if (created.status === 201) return console.log(`created Secret ${name} with ${keys.join(', ')}`);
      if (created.status !== 409) throw refused('cannot create', created);
      continue;
    }
    if (current.status !== 200) throw refused('cannot read', current);
    const missing = keys.filter((key) => !Object.prototype.hasOwnProperty.call(current.body.data ?? {}, key));
    if (missing.length === 0) return console.log(`Secret ${name} already holds ${keys.join(', ')}; unchanged`);
    const patch = { metadata: { resourceVersion: current.body.metadata.resourceVersion }, data: Object.fromEntries(missing.map((key) => [key, generate()])) };
    const patched = await call('PATCH', `${collection}/${name}`, patch, 'application/merge-patch+json');
    if (patched.status === 200) return console.log(`added ${missing.join(', ')} to Secret ${name}`);
    if (patched.status !== 409) throw refused('cannot update', patched);
  }
  throw new Error(`Secret ${namespace}/${name} kept changing under us; giving up after 5 attempts`);
}

main().catch((error) => {
  console.error(error.message);
  process.exit(1);
});
