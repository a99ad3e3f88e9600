/** Error texts for status and the fencing check (bridges/mirror/error-text.ts) on the client's real error classes. */
import { describe, expect, it } from "bun:test";
import { MultipleErrors, ProtocolError, ResponseError } from "@platformatic/kafka";
import { errorText, isFencedError } from "../../bridges/mirror/error-text.ts";

describe("mirror error texts", () => {
  it("recognises a fenced producer however deep the client wrapped it", () => {
    // EndTxn answered PRODUCER_FENCED (90); Produce answered INVALID_PRODUCER_EPOCH (47), inside "Producing messages failed."
    const endTxn = new ResponseError(26, 3, { "/": [90, null] }, {});
    const produce = new MultipleErrors("Producing messages failed.", [
      new ResponseError(0, 9, { "/topics/0/partitions/0": [47, null] }, {}),
    ]);
    expect(isFencedError(endTxn)).toBe(true);
    expect(isFencedError(produce)).toBe(true);
    expect(isFencedError(new Error("x", { cause: new ProtocolError("PRODUCER_FENCED") }))).toBe(true);
  });

  it("does not take other errors for fencing", () => {
    const tooLarge = new ResponseError(0, 9, { "/topics/0/partitions/0": [10, null] }, {});
    expect(isFencedError(tooLarge)).toBe(false);
    expect(isFencedError(new Error("Producer attempted to produce with an old epoch."))).toBe(false);
    expect(isFencedError("PRODUCER_FENCED")).toBe(false);
    expect(errorText(tooLarge)).toContain("Received response with error");
  });
});
