import type * as grpc from '@grpc/grpc-js';

/*
 * Keepalive that a grpc-go server with its default enforcement accepts: no ping on a connection without an
 * open call, and none more often than every 5 minutes; otherwise three pings with nothing sent back in between
 * earn GOAWAY too_many_pings (an original peer idle for 40 s did, at 10 s), and grpc-js reconnects with the
 * interval doubled and an error line. So pings only under open calls (the long-lived streams), to notice a
 * half-open connection beneath one; a dead peer is otherwise noticed by call deadlines and heartbeats.
 * Every client channel of the SDK and of the services uses these.
 */
export const CHANNEL_OPTIONS: grpc.ChannelOptions = {
  'grpc.keepalive_time_ms': 300_000,
  'grpc.keepalive_timeout_ms': 20_000,
  'grpc.keepalive_permit_without_calls': 0,
};
