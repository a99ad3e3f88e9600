/**
 * The named offsets of one partition, kept in one place.
 *
 *   logStartOffset <= lastStableOffset <= highWatermark <= flushed?/logEndOffset
 *
 * - logStartOffset: first readable offset (retention, delete-records move it up).
 * - logEndOffset:   the offset the next record gets.
 * - flushedOffset:  every offset below it is fdatasync'd.
 * - highWatermark:  consumers see offsets below it (committed: durable under the
 *                   topic policy here, replicated to the ISR once replication exists).
 * - lastStableOffset: read_committed consumers see offsets below it (first open
 *                   transaction's offset, or the high watermark).
 */
export class OffsetTracker {
  logStartOffset = 0;
  logEndOffset = 0;
  flushedOffset = 0;
  highWatermark = 0;
  lastStableOffset = 0;

  constructor(init?: Partial<Pick<OffsetTracker, "logStartOffset" | "logEndOffset" | "flushedOffset">>) {
    if (init) Object.assign(this, init);
    this.highWatermark = Math.max(this.logStartOffset, Math.min(this.highWatermark, this.logEndOffset));
    this.lastStableOffset = this.highWatermark;
  }

  /** Move the high watermark (never backwards, never past the log end). Returns true if it moved. */
  advanceHighWatermark(offset: number): boolean {
    const next = Math.min(offset, this.logEndOffset);
    if (next <= this.highWatermark) return false;
    this.highWatermark = next;
    return true;
  }

  /** After truncation (follower) the high watermark may have to move back. */
  clampToLogEnd(): void {
    if (this.flushedOffset > this.logEndOffset) this.flushedOffset = this.logEndOffset;
    if (this.highWatermark > this.logEndOffset) this.highWatermark = this.logEndOffset;
    if (this.lastStableOffset > this.highWatermark) this.lastStableOffset = this.highWatermark;
  }

  /** The log was dropped and restarted, empty, at `offset` (follower behind the leader's log start). */
  resetTo(offset: number): void {
    this.logStartOffset = offset;
    this.logEndOffset = offset;
    this.flushedOffset = offset;
    this.highWatermark = offset;
    this.lastStableOffset = offset;
  }

  advanceLogStart(offset: number): boolean {
    if (offset <= this.logStartOffset) return false;
    this.logStartOffset = offset;
    if (this.highWatermark < offset) this.highWatermark = offset;
    if (this.lastStableOffset < offset) this.lastStableOffset = offset;
    if (this.flushedOffset < offset) this.flushedOffset = offset;
    if (this.logEndOffset < offset) this.logEndOffset = offset;
    return true;
  }
}
