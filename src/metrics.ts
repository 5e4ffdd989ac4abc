import { Counter, Gauge, Histogram, Registry } from 'prom-client'

/**
 * The server's Prometheus metrics, in a registry of their own (one per app, so tests can run
 * several). prom-client's default process metrics are not used: on Bun several of them report
 * nonsense, so process memory is exported here from process.memoryUsage().
 */
export function createMetrics() {
  const registry = new Registry()
  const registers = [registry]
  const metrics = {
    registry,
    openSockets: new Gauge({ name: 'chat_open_sockets', help: 'WebSocket connections open now', registers }),
    activeRooms: new Gauge({ name: 'chat_active_rooms', help: 'Rooms with at least one open socket', registers }),
    messagesReceived: new Counter({ name: 'chat_messages_received_total', help: 'Messages accepted for storage, by source', labelNames: ['source'] as const, registers }),
    messagesStored: new Counter({ name: 'chat_messages_stored_total', help: 'Messages committed to storage (repeats of a client_msg_id excluded)', registers }),
    messagesChanged: new Counter({ name: 'chat_messages_changed_total', help: 'Changes of messages committed, by kind (edited, deleted, reaction)', labelNames: ['change'] as const, registers }),
    messagesDelivered: new Counter({ name: 'chat_messages_delivered_total', help: 'chat.message frames handed to sockets', registers }),
    handshakesRefused: new Counter({ name: 'chat_handshakes_refused_total', help: 'WebSocket handshakes refused before the upgrade, by reason', labelNames: ['reason'] as const, registers }),
    socketsClosed: new Counter({ name: 'chat_sockets_closed_by_server_total', help: 'Sockets the server closed, by reason (slow_consumer, flooding, shutdown)', labelNames: ['reason'] as const, registers }),
    socketsTerminated: new Counter({ name: 'chat_sockets_terminated_total', help: 'Sockets the server closed that did not finish closing within the grace, cut with their queue', registers }),
    terminatedQueuedBytes: new Counter({ name: 'chat_terminated_queued_bytes_total', help: 'Unsent bytes released by cutting sockets that did not finish closing', registers }),
    watchFailures: new Counter({ name: 'chat_room_watch_failures_total', help: "Sockets closed with 1013 because their room's live events could not be set up (broker unavailable)", registers }),
    chatErrors: new Counter({ name: 'chat_errors_total', help: 'chat.error frames sent, by code', labelNames: ['code'] as const, registers }),
    webhookPending: new Gauge({ name: 'chat_webhook_pending', help: 'Webhook events not yet delivered (nor dead-lettered)', registers }),
    webhookOldestPendingSeconds: new Gauge({ name: 'chat_webhook_oldest_pending_seconds', help: 'Age of the oldest webhook event not yet delivered', registers }),
    webhookDeliveries: new Counter({ name: 'chat_webhook_deliveries_total', help: 'Webhook requests, by outcome (delivered, retry, dead)', labelNames: ['outcome'] as const, registers }),
    webhookMessageReads: new Counter({
      name: 'chat_webhook_messages_total',
      help: 'Messages webhook passes took up to send as message.created, by where they were found (memory: committed on this instance and proven unchanged since; database: read back)',
      labelNames: ['source'] as const,
      registers,
    }),
    webhookNudges: new Counter({
      name: 'chat_webhook_nudges_total',
      help: 'Webhook lanes nudged: sent (events committed here wait in a lane another instance holds) and received (a lane held here, looked at for it)',
      labelNames: ['direction'] as const,
      registers,
    }),
    webhookDeadLetters: new Gauge({ name: 'chat_webhook_dead_letters', help: 'Webhook events dead-lettered and not re-queued', registers }),
    storeBatchSize: new Histogram({
      name: 'chat_store_batch_size',
      help: 'Messages written per group commit',
      buckets: [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000],
      registers,
    }),
    storeCommitSeconds: new Histogram({
      name: 'chat_store_commit_seconds',
      help: 'Time to write and commit one batch of messages',
      buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
      registers,
    }),
  }
  new Gauge({
    name: 'chat_process_memory_bytes',
    help: 'Process memory, by kind (rss, heap_used, heap_total, external)',
    labelNames: ['kind'] as const,
    registers,
    collect() {
      const usage = process.memoryUsage()
      this.set({ kind: 'rss' }, usage.rss)
      this.set({ kind: 'heap_used' }, usage.heapUsed)
      this.set({ kind: 'heap_total' }, usage.heapTotal)
      this.set({ kind: 'external' }, usage.external)
    },
  })
  new Gauge({ name: 'chat_process_start_time_seconds', help: 'When the process started, in Unix seconds', registers }).set(Math.floor(Date.now() / 1000 - process.uptime()))
  return metrics
}

export type Metrics = ReturnType<typeof createMetrics>

/** What the store reports about each group commit. */
export type BatchObserver = (size: number, seconds: number) => void
