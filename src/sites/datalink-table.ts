import { XMLParser } from 'fast-xml-parser';

/** One row of a DataLink answer (IVOA DataLink 1.1, section 3.2), by its standard columns. */
export interface DataLinkRow {
  ID?: string;
  access_url?: string;
  service_def?: string;
  error_message?: string;
  semantics?: string;
  content_type?: string;
  content_length?: string;
}

const parser = new XMLParser({
  removeNSPrefix: true, ignoreAttributes: false, attributeNamePrefix: '@', parseTagValue: false, parseAttributeValue: false,
  isArray: (name) => ['RESOURCE', 'TABLE', 'FIELD', 'TR', 'TD', 'INFO'].includes(name),
});

type Node = Record<string, unknown>;
const isNode = (value: unknown): value is Node => typeof value === 'object' && value !== null && !Array.isArray(value);
const list = (value: unknown): Node[] => (Array.isArray(value) ? value : []).map((item) => (isNode(item) ? item : { '#text': item }));
const text = (cell: Node): string => (typeof cell['#text'] === 'string' ? cell['#text'] : typeof cell['#text'] === 'number' ? String(cell['#text']) : '').trim();

/**
 * The rows of a DataLink VOTable, read with a real XML parser: the first TABLE of the `results`
 * RESOURCE (or the first with a TABLE), its FIELDs naming the TD cells of each TABLEDATA row.
 * A VOTable whose QUERY_STATUS is ERROR is refused with the server's text.
 */
export function readDataLinkTable(xml: string): DataLinkRow[] {
  const doc = parser.parse(xml) as Node;
  const votable = doc.VOTABLE;
  if (!isNode(votable)) throw new Error('the DataLink answer is not a VOTable');
  const resources = list(votable.RESOURCE);
  const resource = resources.find((r) => r['@type'] === 'results' && list(r.TABLE).length) ?? resources.find((r) => list(r.TABLE).length);
  if (!resource) throw new Error('the DataLink VOTable has no table');
  const status = list(resource.INFO).find((info) => info['@name'] === 'QUERY_STATUS');
  if (status && status['@value'] === 'ERROR') throw new Error(`the DataLink service answered an error: ${text(status) || 'no reason given'}`);
  const table = list(resource.TABLE)[0]!;
  const fields = list(table.FIELD).map((field) => String(field['@name'] ?? ''));
  const data = isNode(table.DATA) ? table.DATA : {};
  const rows = isNode(data.TABLEDATA) ? list(data.TABLEDATA.TR) : [];
  return rows.map((row) => {
    const cells = list(row.TD);
    const out: Record<string, string> = {};
    fields.forEach((field, index) => {
      const cell = cells[index];
      if (field && cell) out[field] = text(cell);
    });
    return out as DataLinkRow;
  });
}

/** The row that is the data itself (`#this`), without an error; what a DataLink service is followed to. */
export function thisLink(rows: readonly DataLinkRow[]): DataLinkRow | undefined {
  return rows.find((row) => row.semantics === '#this' && row.access_url && !row.error_message);
}
