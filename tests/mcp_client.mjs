// mcp_client.mjs - drive `contree mcp` with the official MCP TypeScript SDK
// (a client we did not write), for e2e_mcp.py:
//   node tests/mcp_client.mjs ROOT     (CONTREE_BIN names the binary)
// Lists the tools and calls every one (the SDK checks each
// structuredContent against the tool's outputSchema), runs three `run`
// calls at once and cancels one, reads resources.  Prints "client: ok".
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const sdk = path.join(here, 'mcp-client', 'node_modules', '@modelcontextprotocol',
  'sdk', 'dist', 'esm');
const load = (p) => import(pathToFileURL(path.join(sdk, p)).href);
const { Client } = await load('client/index.js');
const { StdioClientTransport } = await load('client/stdio.js');

const root = process.argv[2];
const fail = (msg) => { console.error('client: FAIL ' + msg); process.exit(1); };
const check = (cond, msg) => { if (!cond) fail(msg); };

const transport = new StdioClientTransport({
  command: process.env.CONTREE_BIN, args: ['mcp'], cwd: root,
  env: process.env, stderr: 'inherit',
});
const client = new Client({ name: 'contree-e2e', version: '1.0.0' });
await client.connect(transport);
check(client.getServerVersion().name === 'contree', 'server name');

const { tools } = await client.listTools();
const names = tools.map((t) => t.name);
const called = new Set();

async function call(name, args, opts) {
  const r = await client.callTool({ name, arguments: args }, undefined, opts);
  called.add(name);
  if (r.isError) fail(`${name}: ${r.content[0].text}`);
  check(r.structuredContent, `${name}: no structuredContent`);
  check(JSON.stringify(JSON.parse(r.content[0].text)) ===
    JSON.stringify(r.structuredContent), `${name}: text differs`);
  return r.structuredContent;
}

const imgs = await call('list_images', { tag_prefix: 'alpine' });
const img = imgs.images[0].uuid;
await call('get_image', { image: 'tag:alpine:3.19' });
await call('list_files', { image: img, path: '/etc' });
const rf = await call('read_file', { image: img, path: '/etc/alpine-release' });
check(rf.content === '3.19.1\n', 'read_file content');
await call('whoami', {});
await call('grep', { image: img, pattern: 'Alpine', path: '/etc' });
const run = await call('run', { command: 'echo sdk', image: img });
check(run.stdout === 'sdk\n' && run.exit_code === 0, 'run output');
const kept = await call('run', { command: 'echo x > /root/x', image: img,
  disposable: false });
await call('set_tag', { image_uuid: kept.result_image_uuid, tag: 'sdk/test:1' });
await call('get_operation', { operation_id: run.operation_id });
await call('list_operations', { limit: 5 });
const bg = await call('run', { command: 'true', image: img, wait: false });
await call('wait_operations', { operation_ids: [bg.operation_id], timeout: 30 });
const bg2 = await call('run', { command: 'sleep 20', image: img, wait: false });
await call('cancel_operation', { operation_id: bg2.operation_id });
const up = await call('upload', { path: 'f.txt' });
await call('upload', { content_base64: Buffer.from('bytes').toString('base64') });
await call('download', { image: img, path: '/etc/alpine-release',
  destination: 'rel.txt' });
const rs = await call('rsync', { source: '.', destination: '/app',
  exclude: ['*.log'] });
const both = await call('run', { command: 'cat /app/f.txt /up', image: img,
  directory_state_id: rs.directory_state_id, files: { '/up': up.uuid } });
check(both.stdout === 'from the root\nfrom the root\n', 'rsync + files: ' +
  JSON.stringify(both));
await call('import_image', { registry_url: 'docker://docker.io/library/alpine:3.20',
  i_accept_that_anonymous_access_might_be_rate_limited: true });
await call('registry_token_obtain', { registry_url: 'docker://ghcr.io/o/i:1' });
await call('registry_auth', { registry_url: 'ghcr.io', username: 'u', token: 't' });
await call('get_guide', { section: 'async' });
const ex = await call('explore', { image: img, commands: ['echo 1 > /e', 'true'] });
await call('diff', { from: img, to: ex.results[0].result_image_uuid, patch: true });
for (const n of names)
  check(called.has(n), `tool ${n} was not called`);

// three runs at once; the second is cancelled
const ac = new AbortController();
const t0 = Date.now();
const runs = [1, 2, 3].map((i) => call('run', { command: `sleep 1; echo ${i}`,
  image: img }, i === 2 ? { signal: ac.signal } : undefined));
setTimeout(() => ac.abort('changed my mind'), 300);
const res = await Promise.allSettled(runs);
check(res[0].status === 'fulfilled' && res[0].value.stdout === '1\n', 'run 1');
check(res[2].status === 'fulfilled' && res[2].value.stdout === '3\n', 'run 3');
check(res[1].status === 'rejected', 'run 2 was not cancelled');
check(Date.now() - t0 < 20000, 'runs took too long');

// resources and prompts
const guide = await client.readResource({ uri: 'contree://guide/workflow' });
check(guide.contents[0].text.includes('Workflow'), 'guide resource');
const file = await client.readResource({
  uri: `contree://image/${img}/read/etc/alpine-release` });
check(file.contents[0].text === '3.19.1\n', 'file resource');
const { resourceTemplates } = await client.listResourceTemplates();
check(resourceTemplates.length === 5, 'templates');
const { prompts } = await client.listPrompts();
check(prompts.length === 10, 'prompts');
const p = await client.getPrompt({ name: 'debug-failure',
  arguments: { operation_id: run.operation_id } });
check(p.messages[0].content.text.includes(run.operation_id), 'prompt text');
await client.ping();
await client.close();
console.log('client: ok');
