/** Header names shared by the peer transport's client and server. */
export const SECRET_HEADER = "x-eddy-peer-secret";
export const NODE_HEADER = "x-eddy-node";
