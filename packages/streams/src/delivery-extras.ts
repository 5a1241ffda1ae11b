/**
 * What a transport may tell the processor beyond `EventDelivery` and `Consumption`. Both are
 * optional, so every transport stays one; NATS JetStream gives them.
 */
import type { Consumption, EventDelivery } from './transport.js';

export interface DeliveryExtras {
  /** The event's size as received, in bytes: `maxEventBytes` is checked on it. */
  bytes?: number;
}

export interface ConsumptionExtras {
  /**
   * Settles once the events waiting when consumption began have been delivered, including
   * those another processor held unacknowledged (NATS delivers them again only after the ack
   * wait, while new events keep arriving): until then the processor closes no slice. When a
   * transport gives it, the processor does not count deliveries against `backlog`.
   */
  caughtUp?: Promise<void>;
}

export type ExtendedDelivery = EventDelivery & DeliveryExtras;
export type ExtendedConsumption = Consumption & ConsumptionExtras;
