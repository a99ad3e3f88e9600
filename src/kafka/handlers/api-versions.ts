/**
 * ApiVersions (key 18), versions 0-3.
 *
 * Answers with the advertised range of every registered handler (the
 * registry in ./index.ts), and records the client's software name and version
 * (v3+, KIP-511) on the connection. The response header never carries tagged
 * fields (headers.ts answers ApiVersions with response header v0 at every
 * version). A request at a version above 3 is answered by the connection with
 * error UNSUPPORTED_VERSION and the same list encoded at v0, as Kafka does, so
 * that the client can retry with a version it finds there.
 *
 * Deviation: no supported/finalized features are advertised (Eddy has none).
 */
import { ApiVersions } from "../generated/index.ts";
import type { ApiVersionsRequest } from "../generated/api-versions-request.ts";
import type { ApiVersionsResponse } from "../generated/api-versions-response.ts";
import type { AdvertisedApi, Handler } from "./context.ts";

export function apiVersionsResponse(errorCode: number, apis: readonly AdvertisedApi[]): ApiVersionsResponse {
  return {
    errorCode,
    apiKeys: apis.map((a) => ({ apiKey: a.apiKey, minVersion: a.minVersion, maxVersion: a.maxVersion })),
    throttleTimeMs: 0,
    supportedFeatures: [],
    finalizedFeaturesEpoch: -1,
    finalizedFeatures: [],
    zkMigrationReady: false,
  };
}

export const handler: Handler<ApiVersionsRequest, ApiVersionsResponse> = {
  api: ApiVersions,
  minVersion: 0,
  maxVersion: 3,
  async handle(ctx, _header, body) {
    if (body.clientSoftwareName !== "") {
      ctx.connection.clientSoftwareName = body.clientSoftwareName;
      ctx.connection.clientSoftwareVersion = body.clientSoftwareVersion;
    }
    return apiVersionsResponse(0, ctx.apiVersions);
  },
};
