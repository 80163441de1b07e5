/** Saving a downloaded file: a Blob behind an object URL and a link clicked
 * for the reader (the API needs the bearer token, so a plain link cannot). */

import type { DownloadedFile } from './api';

export function saveFile(file: Pick<DownloadedFile, 'blob' | 'filename'>): void {
  const url = URL.createObjectURL(file.blob);
  const link = document.createElement('a');
  link.href = url;
  link.download = file.filename;
  link.rel = 'noopener';
  document.body.appendChild(link);
  link.click();
  link.remove();
  // Revoked a moment later: some browsers start the download asynchronously.
  setTimeout(() => URL.revokeObjectURL(url), 1_000);
}

/** A Blob as a `data:` URL, for an `<img>` (the page's CSP allows data:
 * images, not blob: ones). */
export async function blobToDataUrl(blob: Blob, type = blob.type || 'application/octet-stream'): Promise<string> {
  const bytes = new Uint8Array(await blob.arrayBuffer());
  let binary = '';
  const chunk = 0x8000;
  for (let i = 0; i < bytes.length; i += chunk) binary += String.fromCharCode(...bytes.subarray(i, i + chunk));
  return `data:${type};base64,${btoa(binary)}`;
}
