/** The peer transport over HTTP/2: typed RPC between Eddy nodes. */
export { PeerClient, type PeerClientOptions, type RequestOptions } from "./client.ts";
export { NODE_HEADER, SECRET_HEADER } from "./headers.ts";
export {
  isLoopback,
  type PeerHandler,
  type PeerRequest,
  PeerServer,
  type PeerServerOptions,
} from "./server.ts";
