// Serves this folder's sources.csv over http on loopback, for the example session: the demo site
// stages the dataset from here. Prints its base URL, then serves until it is stopped.
import { createReadStream } from 'node:fs';
import { createServer } from 'node:http';
import { fileURLToPath } from 'node:url';

const file = fileURLToPath(new URL('./sources.csv', import.meta.url));
const server = createServer((req, res) => {
  if (req.url === '/demo_city/sources.csv') createReadStream(file).pipe(res.writeHead(200, { 'Content-Type': 'text/csv' }));
  else res.writeHead(404).end();
});
server.listen(Number(process.env.DATASET_PORT ?? 0), '127.0.0.1', () => {
  console.log(`http://127.0.0.1:${server.address().port}/demo_city`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
