import { useEffect, useState } from 'preact/hooks';
import type { ApiClient, Doc } from '../lib/api-client.js';
import { Problem } from './problem.js';

const size = (bytes: number): string => (bytes < 1024 ? `${bytes} B` : bytes < 1024 ** 2 ? `${(bytes / 1024).toFixed(1)} KiB` : `${(bytes / 1024 ** 2).toFixed(1)} MiB`);

/** A COMPLETED session's output files, each fetched with the token when clicked (a plain link could not send it). */
export function OutputsView({ api, uuid }: { api: ApiClient; uuid: string }) {
  const [listing, setListing] = useState<Doc | undefined>(undefined);
  const [error, setError] = useState<unknown>(undefined);
  useEffect(() => { api.outputs(uuid).then(setListing, setError); }, [uuid, api]);
  const files = (listing?.files as Doc[] | undefined) ?? [];
  return (
    <section class="panel outputs" aria-labelledby="outputs-title">
      <h3 id="outputs-title">Outputs</h3>
      <Problem error={error} what="The outputs could not be listed" />
      {listing && files.length === 0 ? <p>The run left no output files.</p> : null}
      <ul>
        {files.map((file) => (
          <li key={file.path}>
            <a href={file.url as string} onClick={(event) => {
              if (!api.hasToken) return; // anonymous: the link works as it is
              event.preventDefault();
              api.download(file.url as string, (file.path as string).split('/').pop() ?? 'output').catch(setError);
            }}>{file.path}</a> ({size(Number(file.size))})
          </li>
        ))}
      </ul>
      {listing?.truncated ? <p>More files than listed.</p> : null}
    </section>
  );
}
