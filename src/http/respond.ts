import type { Request, Response } from 'express';
import { encodeBody, type DocumentType } from '../protocol/codecs/body-codec.js';
import { responseFormat } from '../protocol/media-types.js';

/** Writes a document in the format the client's Accept asks for (negotiated before any work). */
export function sendDocument(req: Request, res: Response, status: number, document: unknown, type: DocumentType): void {
  const negotiated = responseFormat(req.get('accept'));
  res.status(status)
    .type(`${negotiated.mediaType}; charset=utf-8`)
    .vary('Accept')
    .send(encodeBody(document, negotiated.format, type));
}

/** Base URL for absolute links: the configured public URL, or this request's scheme and host. */
export function baseUrlOf(req: Request, publicUrl: string | undefined): string {
  if (publicUrl) return publicUrl.replace(/\/+$/, '');
  return `${req.protocol}://${req.get('host') ?? 'localhost'}`;
}
