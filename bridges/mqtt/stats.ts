/**
 * Counters for /metrics (wired by the lead): messages in and out per QoS,
 * dropped messages by cause, refused connections. Gauges (clients, sessions,
 * retained messages) are read from the bridge when scraped.
 */
export interface MqttStats {
  /** PUBLISH packets received, by QoS. */
  messagesIn: [number, number, number];
  /** PUBLISH packets sent (first transmissions), by QoS. */
  messagesOut: [number, number, number];
  /** Messages not delivered: expired, too large for the client, not stored (unmapped, not authorized, broker error). */
  dropped: { expired: number; tooLarge: number; notStored: number; notAuthorized: number };
  connectionsAccepted: number;
  connectionsRefused: number;
}

export function newStats(): MqttStats {
  return {
    messagesIn: [0, 0, 0],
    messagesOut: [0, 0, 0],
    dropped: { expired: 0, tooLarge: 0, notStored: 0, notAuthorized: 0 },
    connectionsAccepted: 0,
    connectionsRefused: 0,
  };
}
