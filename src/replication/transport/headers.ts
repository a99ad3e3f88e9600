/** Header names shared by the peer transport's client and server (defined in src/util/peer-ping.ts for `eddy doctor`). */
export { NODE_HEADER, SECRET_HEADER } from "../../util/peer-ping.ts";
