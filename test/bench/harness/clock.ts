/** Now, in ms since the epoch with sub-ms precision: comparable with Docker's event times (timeNano). */
export const now = (): number => performance.timeOrigin + performance.now();
