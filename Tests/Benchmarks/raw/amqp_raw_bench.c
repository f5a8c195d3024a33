/*
 * amqp_raw_bench: the project's raw rabbitmq-c (librabbitmq 0.11) AMQP 0-9-1
 * throughput benchmark. It is the "floor" the Swift AMQP layer is compared to
 * (deploy/bench runs it interleaved with the Swift `amqp-bench`, which takes the
 * same arguments and prints the same JSON line).
 *
 * usage:
 *   amqp_raw_bench --host 127.0.0.1 --port 5673 --scenario publish|consume
 *                  --queue-type classic|quorum --count N [--window W]
 *                  [--prefetch P] [--body-size 512] [--queue NAME]
 *
 * build:
 *   gcc -O2 -Wall -Wextra -o amqp_raw_bench amqp_raw_bench.c -lrabbitmq
 *
 * Scenarios (both use a fresh durable queue, classic or quorum
 * (x-queue-type=quorum), named bench.<scenario>.<type>.<pid> unless --queue is
 * given, and delete it at the end):
 *
 *   publish  confirm mode; publish N persistent (delivery_mode 2)
 *            application/json messages of exactly --body-size bytes to the
 *            default exchange (routing key = queue), with at most W (default
 *            256) unconfirmed. Timed: first publish .. last confirm.
 *   consume  pre-fill the queue with N messages as above (untimed), then
 *            basic.qos P (default 256), basic.consume with manual acks, ack
 *            every delivery on its own (multiple=0). Timed: basic.consume ..
 *            the broker has processed the N-th ack (a synchronous RPC after the
 *            last ack proves it).
 *
 * Output: one JSON line on stdout,
 *   {"client":"raw-c","scenario":..,"queue_type":..,"count":N,"window":W,
 *    "prefetch":P,"body_size":B,"seconds":S,"msgs_per_s":R,"client_cpu_s":C}
 * where client_cpu_s is this process's user+system CPU (getrusage) over the
 * timed phase. Errors: a message on stderr, exit code 1 (the queue is deleted
 * on a best-effort basis).
 *
 * rabbitmq-c 0.11 notes (see shared/bench/peers/README.md, "pitfalls"):
 *   - 0.11 has no publisher-confirm API: publishes are numbered 1, 2, ... from
 *     confirm.select and basic.ack/basic.nack frames (with `multiple`) are read
 *     and applied here, per delivery tag.
 *   - frames are read with amqp_simple_wait_frame_noblock and a timeout of
 *     whole milliseconds >= 2 (shorter ones become poll(.., 0) and spin).
 *   - decoded frames live in per-channel pools, released after each frame.
 *   - heartbeat 0 (0.11 can block in amqp_basic_publish with heartbeats on).
 */
#define _GNU_SOURCE
#include <amqp.h>
#include <amqp_framing.h>
#include <amqp_tcp_socket.h>

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

/* ------------------------------------------------------------------------ */
/* Settings                                                                  */
/* ------------------------------------------------------------------------ */

#define PROG "amqp_raw_bench"

/* Credentials / vhost of the project's private broker (deploy/broker). */
#define AMQP_USER "guest"
#define AMQP_PASSWORD "guest"
#define AMQP_VHOST "/"
#define FRAME_MAX 131072

/* Frame reads wait in slices of this many milliseconds (>= 2, pitfall 6);
 * poll() returns as soon as data arrives, so the slice costs nothing. */
#define WAIT_SLICE_MS 50
/* Give up when the broker sends nothing for this long while we wait. */
#define STALL_LIMIT_S 120.0
/* Connect and synchronous-RPC timeout (queue.declare, queue.delete, ...). */
#define CONNECT_TIMEOUT_S 10
#define RPC_TIMEOUT_S 120

#define PUBLISH_CHANNEL 1 /* confirm mode: publishes and pre-fill */
#define CONSUME_CHANNEL 2 /* basic.qos + basic.consume */
#define CLEANUP_CHANNEL 3 /* post-run checks and queue.delete */

typedef struct {
  const char *host;
  int port;
  const char *scenario; /* "publish" | "consume" */
  const char *queue_type; /* "classic" | "quorum" */
  unsigned long count;
  unsigned long window;
  unsigned long prefetch;
  unsigned long body_size;
  const char *queue; /* NULL: bench.<scenario>.<type>.<pid> */
} options_t;

/* ------------------------------------------------------------------------ */
/* Errors                                                                    */
/* ------------------------------------------------------------------------ */

/* Set once the benchmark queue exists, so that die() can delete it. */
static options_t *g_opts;
static char g_queue[256];
static int g_queue_declared;

static void best_effort_delete_queue(void);

__attribute__((noreturn, format(printf, 1, 2))) static void die(const char *fmt,
                                                               ...) {
  va_list ap;
  fprintf(stderr, PROG ": error: ");
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fputc('\n', stderr);
  best_effort_delete_queue();
  exit(1);
}

/* Dies with a readable message unless an RPC reply is normal. */
static void check_reply(amqp_rpc_reply_t r, const char *what) {
  switch (r.reply_type) {
    case AMQP_RESPONSE_NORMAL:
      return;
    case AMQP_RESPONSE_NONE:
      die("%s: no reply (missing RPC reply type)", what);
    case AMQP_RESPONSE_LIBRARY_EXCEPTION:
      die("%s: %s", what, amqp_error_string2(r.library_error));
    case AMQP_RESPONSE_SERVER_EXCEPTION:
      if (r.reply.id == AMQP_CONNECTION_CLOSE_METHOD) {
        amqp_connection_close_t *m = r.reply.decoded;
        die("%s: broker closed the connection: %u %.*s", what, m->reply_code,
            (int)m->reply_text.len, (const char *)m->reply_text.bytes);
      }
      if (r.reply.id == AMQP_CHANNEL_CLOSE_METHOD) {
        amqp_channel_close_t *m = r.reply.decoded;
        die("%s: broker closed the channel: %u %.*s", what, m->reply_code,
            (int)m->reply_text.len, (const char *)m->reply_text.bytes);
      }
      die("%s: unexpected server method 0x%08x", what, r.reply.id);
  }
  die("%s: unknown reply type %d", what, (int)r.reply_type);
}

static void check_status(int status, const char *what) {
  if (status != AMQP_STATUS_OK) die("%s: %s", what, amqp_error_string2(status));
}

/* ------------------------------------------------------------------------ */
/* Clocks                                                                    */
/* ------------------------------------------------------------------------ */

static double monotonic_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double wall_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* This process's user + system CPU time, in seconds. */
static double process_cpu_s(void) {
  struct rusage ru;
  if (getrusage(RUSAGE_SELF, &ru) != 0) die("getrusage: %s", strerror(errno));
  return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
         (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

/* ------------------------------------------------------------------------ */
/* Connection and queue                                                      */
/* ------------------------------------------------------------------------ */

static void open_channel(amqp_connection_state_t conn, amqp_channel_t ch) {
  amqp_channel_open(conn, ch);
  check_reply(amqp_get_rpc_reply(conn), "channel.open");
}

static void close_channel(amqp_connection_state_t conn, amqp_channel_t ch) {
  check_reply(amqp_channel_close(conn, ch, AMQP_REPLY_SUCCESS),
              "channel.close");
}

/* Connects and logs in (heartbeat 0). Returns NULL with *error set instead of
 * dying when `soft` (used by the error path's cleanup). */
static amqp_connection_state_t connect_broker(const options_t *o, int soft,
                                              const char **error) {
  struct timeval connect_tv = {CONNECT_TIMEOUT_S, 0};
  struct timeval rpc_tv = {RPC_TIMEOUT_S, 0};
  amqp_connection_state_t conn = amqp_new_connection();
  amqp_socket_t *sock;
  amqp_rpc_reply_t r;
  int status;

  if (!conn) die("amqp_new_connection failed (out of memory)");
  sock = amqp_tcp_socket_new(conn);
  if (!sock) die("amqp_tcp_socket_new failed");
  status = amqp_socket_open_noblock(sock, o->host, o->port, &connect_tv);
  if (status != AMQP_STATUS_OK) {
    if (!soft)
      die("cannot connect to %s:%d: %s", o->host, o->port,
          amqp_error_string2(status));
    *error = amqp_error_string2(status);
    amqp_destroy_connection(conn);
    return NULL;
  }
  /* channel_max 0 (broker's), frame_max 128 KiB, heartbeat 0. 0.11's default
   * capabilities lack consumer_cancel_notify and connection.blocked (merged
   * into them here): without the first, a queue deleted under the consumer
   * would just go silent instead of sending basic.cancel. */
  amqp_table_entry_t caps[2];
  caps[0].key = amqp_cstring_bytes("consumer_cancel_notify");
  caps[0].value.kind = AMQP_FIELD_KIND_BOOLEAN;
  caps[0].value.value.boolean = 1;
  caps[1].key = amqp_cstring_bytes("connection.blocked");
  caps[1].value.kind = AMQP_FIELD_KIND_BOOLEAN;
  caps[1].value.value.boolean = 1;
  amqp_table_entry_t prop;
  prop.key = amqp_cstring_bytes("capabilities");
  prop.value.kind = AMQP_FIELD_KIND_TABLE;
  prop.value.value.table.num_entries = 2;
  prop.value.value.table.entries = caps;
  amqp_table_t client_properties = {1, &prop};
  r = amqp_login_with_properties(conn, AMQP_VHOST, 0, FRAME_MAX, 0,
                                 &client_properties, AMQP_SASL_METHOD_PLAIN,
                                 AMQP_USER, AMQP_PASSWORD);
  if (r.reply_type != AMQP_RESPONSE_NORMAL) {
    if (!soft) check_reply(r, "login");
    *error = "login failed";
    amqp_destroy_connection(conn);
    return NULL;
  }
  /* Bound every synchronous RPC so that a wedged broker ends the run. */
  amqp_set_rpc_timeout(conn, &rpc_tv);
  return conn;
}

static void disconnect_broker(amqp_connection_state_t conn) {
  check_reply(amqp_connection_close(conn, AMQP_REPLY_SUCCESS),
              "connection.close");
  check_status(amqp_destroy_connection(conn), "amqp_destroy_connection");
}

/* Declares the durable benchmark queue; it must be empty (a fresh queue). */
static void declare_queue(amqp_connection_state_t conn, amqp_channel_t ch,
                          const char *queue, int quorum) {
  amqp_table_entry_t arg;
  amqp_table_t args = amqp_empty_table;
  amqp_queue_declare_ok_t *ok;

  if (quorum) {
    arg.key = amqp_cstring_bytes("x-queue-type");
    arg.value.kind = AMQP_FIELD_KIND_UTF8;
    arg.value.value.bytes = amqp_cstring_bytes("quorum");
    args.num_entries = 1;
    args.entries = &arg;
  }
  ok = amqp_queue_declare(conn, ch, amqp_cstring_bytes(queue), /*passive*/ 0,
                          /*durable*/ 1, /*exclusive*/ 0, /*auto_delete*/ 0,
                          args);
  check_reply(amqp_get_rpc_reply(conn), "queue.declare");
  /* Someone else's queue with messages in it: refuse, and leave it alone. */
  if (ok->message_count != 0)
    die("queue %s is not fresh: it already holds %" PRIu32 " messages", queue,
        ok->message_count);
  g_queue_declared = 1; /* ours now: die() deletes it */
}

/* Passive declare: the queue's ready-message count. Also a cheap synchronous
 * round trip: when it returns, the broker has processed everything sent
 * before it on this channel. */
static uint32_t queue_ready_count(amqp_connection_state_t conn,
                                  amqp_channel_t ch, const char *queue) {
  amqp_queue_declare_ok_t *ok =
      amqp_queue_declare(conn, ch, amqp_cstring_bytes(queue), /*passive*/ 1, 0,
                         0, 0, amqp_empty_table);
  check_reply(amqp_get_rpc_reply(conn), "queue.declare (passive)");
  return ok->message_count;
}

static void delete_queue(amqp_connection_state_t conn, amqp_channel_t ch,
                         const char *queue) {
  amqp_queue_delete(conn, ch, amqp_cstring_bytes(queue), /*if_unused*/ 0,
                    /*if_empty*/ 0);
  check_reply(amqp_get_rpc_reply(conn), "queue.delete");
  g_queue_declared = 0;
}

/* Error path: delete the queue over a new connection, ignoring failures. */
static void best_effort_delete_queue(void) {
  static int running;
  amqp_connection_state_t conn;
  const char *error = NULL;

  if (!g_queue_declared || running || !g_opts) return;
  running = 1;
  conn = connect_broker(g_opts, /*soft*/ 1, &error);
  if (!conn) {
    fprintf(stderr, PROG ": could not delete queue %s: %s\n", g_queue, error);
    return;
  }
  amqp_channel_open(conn, 1);
  if (amqp_get_rpc_reply(conn).reply_type == AMQP_RESPONSE_NORMAL) {
    amqp_queue_delete(conn, 1, amqp_cstring_bytes(g_queue), 0, 0);
    if (amqp_get_rpc_reply(conn).reply_type == AMQP_RESPONSE_NORMAL)
      fprintf(stderr, PROG ": deleted queue %s\n", g_queue);
    else
      fprintf(stderr, PROG ": could not delete queue %s\n", g_queue);
  }
  amqp_connection_close(conn, AMQP_REPLY_SUCCESS);
  amqp_destroy_connection(conn);
}

/* ------------------------------------------------------------------------ */
/* Reading frames                                                            */
/* ------------------------------------------------------------------------ */

/* Reads the next frame, waiting in WAIT_SLICE_MS slices; dies on a socket
 * error or when nothing arrives for STALL_LIMIT_S. `what` names the wait. */
static void wait_frame(amqp_connection_state_t conn, amqp_frame_t *frame,
                       const char *what) {
  double deadline = monotonic_s() + STALL_LIMIT_S;
  for (;;) {
    struct timeval slice = {0, WAIT_SLICE_MS * 1000};
    int status = amqp_simple_wait_frame_noblock(conn, frame, &slice);
    if (status == AMQP_STATUS_OK) return;
    if (status != AMQP_STATUS_TIMEOUT)
      die("%s: reading a frame: %s", what, amqp_error_string2(status));
    if (monotonic_s() > deadline)
      die("%s: nothing from the broker for %.0f s", what, STALL_LIMIT_S);
  }
}

/* Frames that matter whatever we wait for. channel.close, connection.close
 * and basic.cancel (queue deleted under a consumer) end the run;
 * connection.blocked / unblocked (broker resource alarm) are reported.
 * Returns 1 if the frame was one of these. */
static int handle_common_frame(const amqp_frame_t *f, const char *what) {
  if (f->frame_type != AMQP_FRAME_METHOD) return 0;
  switch (f->payload.method.id) {
    case AMQP_CHANNEL_CLOSE_METHOD: {
      amqp_channel_close_t *m = f->payload.method.decoded;
      die("%s: broker closed channel %u: %u %.*s", what, f->channel,
          m->reply_code, (int)m->reply_text.len,
          (const char *)m->reply_text.bytes);
    }
    case AMQP_CONNECTION_CLOSE_METHOD: {
      amqp_connection_close_t *m = f->payload.method.decoded;
      die("%s: broker closed the connection: %u %.*s", what, m->reply_code,
          (int)m->reply_text.len, (const char *)m->reply_text.bytes);
    }
    case AMQP_BASIC_CANCEL_METHOD:
      die("%s: broker cancelled the consumer on channel %u", what, f->channel);
    case AMQP_CONNECTION_BLOCKED_METHOD:
      fprintf(stderr, PROG ": %s: broker blocked the connection (resource "
              "alarm); the figures will be meaningless\n", what);
      return 1;
    case AMQP_CONNECTION_UNBLOCKED_METHOD:
      fprintf(stderr, PROG ": %s: broker unblocked the connection\n", what);
      return 1;
    default:
      return 0;
  }
}

/* ------------------------------------------------------------------------ */
/* Message body                                                              */
/* ------------------------------------------------------------------------ */

/* {"seq":123,"ts":1764451234.123456,"kind":"registration","pad":"xxx..."}
 * padded with 'x' to exactly body_size bytes. */
#define BODY_HEAD "{\"seq\":%lu,\"ts\":%.6f,\"kind\":\"registration\",\"pad\":\""
#define BODY_TAIL "\"}"
/* Longest head: 20-digit seq, ts up to 17 digits + point + 6 decimals. */
#define BODY_MIN_SIZE 96

static char *g_body;
static size_t g_body_size;

static void body_init(size_t size) {
  g_body_size = size;
  g_body = malloc(size + 1);
  if (!g_body) die("out of memory (body of %zu bytes)", size);
}

/* Writes message `seq` into g_body (fixed total length g_body_size). */
static amqp_bytes_t body_fill(unsigned long seq) {
  amqp_bytes_t b;
  int head = snprintf(g_body, g_body_size, BODY_HEAD, seq, wall_s());
  if (head < 0 || (size_t)head + 2 > g_body_size)
    die("body of %zu bytes cannot hold the JSON header", g_body_size);
  memset(g_body + head, 'x', g_body_size - 2 - (size_t)head);
  memcpy(g_body + g_body_size - 2, BODY_TAIL, 2);
  b.len = g_body_size;
  b.bytes = g_body;
  return b;
}

/* ------------------------------------------------------------------------ */
/* Publisher confirms                                                        */
/* ------------------------------------------------------------------------ */

/* Per-tag confirm state of one confirm-mode channel. Delivery tags are
 * 1..published; done[tag] says whether tag is confirmed (acked or nacked);
 * lowest is the smallest unconfirmed tag (start of a `multiple` range). */
typedef struct {
  uint64_t published;
  uint64_t confirmed;
  uint64_t nacked;
  uint64_t lowest;
  uint8_t *done;
} confirms_t;

static void confirms_init(confirms_t *c, uint64_t count) {
  memset(c, 0, sizeof *c);
  c->lowest = 1;
  c->done = calloc(count + 2, 1);
  if (!c->done) die("out of memory (confirm table for %" PRIu64 ")", count);
}

static void confirms_free(confirms_t *c) {
  free(c->done);
  c->done = NULL;
}

static void confirm_one(confirms_t *c, uint64_t tag, int nack) {
  if (c->done[tag]) return; /* a duplicate confirm is harmless */
  c->done[tag] = 1;
  c->confirmed++;
  if (nack) c->nacked++;
}

/* Applies basic.ack/basic.nack(delivery_tag, multiple). multiple=1 confirms
 * every unconfirmed tag <= delivery_tag; tag 0 with multiple means all. */
static void confirms_apply(confirms_t *c, uint64_t tag, int multiple,
                           int nack) {
  if (multiple && tag == 0) tag = c->published;
  if (tag == 0 || tag > c->published)
    die("broker confirmed delivery tag %" PRIu64 " but only %" PRIu64
        " were published",
        tag, c->published);
  if (multiple) {
    for (uint64_t t = c->lowest; t <= tag; t++) confirm_one(c, t, nack);
  } else {
    confirm_one(c, tag, nack);
  }
  while (c->lowest <= c->published && c->done[c->lowest]) c->lowest++;
}

/* Handles one frame read on a confirm-mode connection. */
static void handle_confirm_frame(amqp_connection_state_t conn, confirms_t *c,
                                 const amqp_frame_t *f) {
  if (handle_common_frame(f, "waiting for confirms")) {
    /* reported */
  } else if (f->frame_type == AMQP_FRAME_METHOD) {
    switch (f->payload.method.id) {
      case AMQP_BASIC_ACK_METHOD: {
        const amqp_basic_ack_t *a = f->payload.method.decoded;
        confirms_apply(c, a->delivery_tag, a->multiple, 0);
        break;
      }
      case AMQP_BASIC_NACK_METHOD: {
        const amqp_basic_nack_t *n = f->payload.method.decoded;
        confirms_apply(c, n->delivery_tag, n->multiple, 1);
        break;
      }
      default:
        /* mandatory=0, so no basic.return; anything else is unexpected */
        fprintf(stderr, PROG ": ignoring method 0x%08x on channel %u\n",
                f->payload.method.id, f->channel);
    }
  }
  /* The decoded frame lives in the channel's pool: recycle it (a no-op while
   * more frames for that channel are queued inside the library). */
  amqp_maybe_release_buffers_on_channel(conn, f->channel);
}

/* Handles frames the library has already read off the socket, without a
 * syscall (frames_enqueued / data_in_buffer are memory checks). */
static void drain_buffered_confirms(amqp_connection_state_t conn,
                                    confirms_t *c) {
  while (amqp_frames_enqueued(conn) || amqp_data_in_buffer(conn)) {
    amqp_frame_t f;
    struct timeval zero = {0, 0};
    int status = amqp_simple_wait_frame_noblock(conn, &f, &zero);
    if (status == AMQP_STATUS_TIMEOUT) return; /* only a partial frame */
    check_status(status, "reading confirms");
    handle_confirm_frame(conn, c, &f);
  }
}

/* Blocks (in slices) until at least one confirm frame has been handled. */
static void wait_for_confirms(amqp_connection_state_t conn, confirms_t *c) {
  uint64_t before = c->confirmed;
  while (c->confirmed == before) {
    amqp_frame_t f;
    wait_frame(conn, &f, "waiting for confirms");
    handle_confirm_frame(conn, c, &f);
  }
}

static void publish_one(amqp_connection_state_t conn, amqp_channel_t ch,
                        const char *queue, unsigned long seq) {
  amqp_basic_properties_t props;
  props._flags = AMQP_BASIC_CONTENT_TYPE_FLAG | AMQP_BASIC_DELIVERY_MODE_FLAG;
  props.content_type = amqp_cstring_bytes("application/json");
  props.delivery_mode = AMQP_DELIVERY_PERSISTENT; /* 2 */
  /* default exchange, routing key = queue, mandatory 0, immediate 0 */
  check_status(amqp_basic_publish(conn, ch, amqp_empty_bytes,
                                  amqp_cstring_bytes(queue), 0, 0, &props,
                                  body_fill(seq)),
               "basic.publish");
}

/* Publishes `count` messages on confirm-mode channel `ch` with at most
 * `window` unconfirmed, and returns when every one is confirmed. */
static void publish_confirmed(amqp_connection_state_t conn, amqp_channel_t ch,
                              const char *queue, unsigned long count,
                              unsigned long window, confirms_t *c) {
  for (unsigned long seq = 1; seq <= count; seq++) {
    while (c->published - c->confirmed >= window) wait_for_confirms(conn, c);
    publish_one(conn, ch, queue, seq);
    c->published = seq; /* delivery tag of this publish */
    drain_buffered_confirms(conn, c);
  }
  while (c->confirmed < count) wait_for_confirms(conn, c);
  if (c->nacked)
    die("broker nacked %" PRIu64 " of %lu messages", c->nacked, count);
}

static void confirm_select(amqp_connection_state_t conn, amqp_channel_t ch) {
  amqp_confirm_select(conn, ch);
  check_reply(amqp_get_rpc_reply(conn), "confirm.select");
}

/* ------------------------------------------------------------------------ */
/* Scenarios                                                                 */
/* ------------------------------------------------------------------------ */

typedef struct {
  double seconds;
  double cpu_s;
} timing_t;

static timing_t run_publish(amqp_connection_state_t conn, const options_t *o) {
  confirms_t c;
  timing_t t;
  double t0, c0;

  confirm_select(conn, PUBLISH_CHANNEL);
  confirms_init(&c, o->count);
  t0 = monotonic_s();
  c0 = process_cpu_s();
  publish_confirmed(conn, PUBLISH_CHANNEL, g_queue, o->count, o->window, &c);
  t.seconds = monotonic_s() - t0;
  t.cpu_s = process_cpu_s() - c0;
  confirms_free(&c);
  return t;
}

static timing_t run_consume(amqp_connection_state_t conn, const options_t *o) {
  confirms_t c;
  timing_t t;
  double t0, c0;
  unsigned long received = 0;
  uint32_t ready;

  /* Untimed pre-fill, then close the confirm channel so that no confirm
   * frame can interleave with the deliveries. */
  confirm_select(conn, PUBLISH_CHANNEL);
  confirms_init(&c, o->count);
  publish_confirmed(conn, PUBLISH_CHANNEL, g_queue, o->count, o->window, &c);
  confirms_free(&c);
  close_channel(conn, PUBLISH_CHANNEL);
  ready = queue_ready_count(conn, CLEANUP_CHANNEL, g_queue);
  if (ready != o->count)
    die("pre-fill: queue holds %" PRIu32 " messages, expected %lu", ready,
        o->count);

  open_channel(conn, CONSUME_CHANNEL);
  amqp_basic_qos(conn, CONSUME_CHANNEL, 0, (uint16_t)o->prefetch, 0);
  check_reply(amqp_get_rpc_reply(conn), "basic.qos");

  t0 = monotonic_s();
  c0 = process_cpu_s();
  amqp_basic_consume(conn, CONSUME_CHANNEL, amqp_cstring_bytes(g_queue),
                     amqp_empty_bytes, /*no_local*/ 0, /*no_ack*/ 0,
                     /*exclusive*/ 0, amqp_empty_table);
  check_reply(amqp_get_rpc_reply(conn), "basic.consume");

  /* One frame loop: basic.deliver -> read header+body -> ack it alone. */
  while (received < o->count) {
    amqp_frame_t f;
    wait_frame(conn, &f, "consuming");
    if (handle_common_frame(&f, "consuming")) {
      /* reported */
    } else if (f.frame_type == AMQP_FRAME_METHOD &&
               f.payload.method.id == AMQP_BASIC_DELIVER_METHOD) {
      /* copy what we need: the decoded method lives in the channel's pool,
       * which is recycled below */
      const amqp_basic_deliver_t *d = f.payload.method.decoded;
      uint64_t tag = d->delivery_tag;
      amqp_channel_t ch = f.channel;
      amqp_message_t msg;
      check_reply(amqp_read_message(conn, ch, &msg, 0), "reading a delivery");
      if (msg.body.len != g_body_size)
        die("delivery %" PRIu64 " has %zu body bytes, expected %zu", tag,
            msg.body.len, g_body_size);
      amqp_destroy_message(&msg);
      check_status(amqp_basic_ack(conn, ch, tag, /*multiple*/ 0), "basic.ack");
      received++;
    } else if (f.frame_type == AMQP_FRAME_METHOD) {
      fprintf(stderr, PROG ": ignoring method 0x%08x on channel %u\n",
              f.payload.method.id, f.channel);
    }
    amqp_maybe_release_buffers_on_channel(conn, f.channel);
  }
  /* amqp_basic_ack only wrote the bytes; a synchronous round trip on the
   * same channel returns once the broker has processed every ack before
   * it. */
  (void)queue_ready_count(conn, CONSUME_CHANNEL, g_queue);
  t.seconds = monotonic_s() - t0;
  t.cpu_s = process_cpu_s() - c0;

  /* Untimed check that every message really was acked: closing the channel
   * requeues anything unacked, which would show up as ready again. Classic
   * queues only: for a quorum queue the broker's channel may still hold
   * settlements back (rabbit_fifo_client stashes them while 32+ Raft commands
   * are pending) and closing the channel then returns those messages even
   * though every ack was received: a false alarm now and then. */
  close_channel(conn, CONSUME_CHANNEL);
  if (strcmp(o->queue_type, "classic") == 0) {
    ready = queue_ready_count(conn, CLEANUP_CHANNEL, g_queue);
    if (ready != 0)
      die("%" PRIu32 " messages were not acked (back in the queue)", ready);
  }
  return t;
}

/* ------------------------------------------------------------------------ */
/* Command line                                                              */
/* ------------------------------------------------------------------------ */

static void usage(FILE *out) {
  fprintf(out,
          "usage: " PROG " --host HOST --port PORT --scenario publish|consume\n"
          "       --queue-type classic|quorum --count N [--window W]\n"
          "       [--prefetch P] [--body-size BYTES] [--queue NAME]\n"
          "\n"
          "  --host HOST        broker host (127.0.0.1)\n"
          "  --port PORT        broker AMQP port (5673)\n"
          "  --scenario S       publish: N confirmed publishes, timed;\n"
          "                     consume: pre-fill N, then time consuming them\n"
          "  --queue-type T     classic or quorum (fresh durable queue)\n"
          "  --count N          messages\n"
          "  --window W         max unconfirmed publishes (256)\n"
          "  --prefetch P       basic.qos prefetch for consume, 1-65535 (256)\n"
          "  --body-size BYTES  JSON body size, >= %d (512)\n"
          "  --queue NAME       queue name (bench.<scenario>.<type>.<pid>)\n"
          "\n"
          "Prints one JSON line: {\"client\":\"raw-c\",...,\"msgs_per_s\":R,"
          "\"client_cpu_s\":C}\n",
          BODY_MIN_SIZE);
}

static unsigned long parse_number(const char *opt, const char *s,
                                  unsigned long min, unsigned long max) {
  char *end;
  unsigned long v;
  errno = 0;
  if (!s || !*s || *s == '-') die("%s: expected a number, got '%s'", opt, s);
  v = strtoul(s, &end, 10);
  if (errno || *end) die("%s: expected a number, got '%s'", opt, s);
  if (v < min || v > max)
    die("%s: %lu is out of range (%lu-%lu)", opt, v, min, max);
  return v;
}

static void parse_args(int argc, char **argv, options_t *o) {
  enum { O_HOST = 1, O_PORT, O_SCENARIO, O_QTYPE, O_COUNT, O_WINDOW,
         O_PREFETCH, O_BODY, O_QUEUE, O_HELP };
  static const struct option longopts[] = {
      {"host", required_argument, NULL, O_HOST},
      {"port", required_argument, NULL, O_PORT},
      {"scenario", required_argument, NULL, O_SCENARIO},
      {"queue-type", required_argument, NULL, O_QTYPE},
      {"count", required_argument, NULL, O_COUNT},
      {"window", required_argument, NULL, O_WINDOW},
      {"prefetch", required_argument, NULL, O_PREFETCH},
      {"body-size", required_argument, NULL, O_BODY},
      {"queue", required_argument, NULL, O_QUEUE},
      {"help", no_argument, NULL, O_HELP},
      {NULL, 0, NULL, 0}};
  int opt;

  o->host = "127.0.0.1";
  o->port = 5673;
  o->scenario = NULL;
  o->queue_type = NULL;
  o->count = 0;
  o->window = 256;
  o->prefetch = 256;
  o->body_size = 512;
  o->queue = NULL;

  opterr = 0;
  while ((opt = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
    switch (opt) {
      case O_HOST: o->host = optarg; break;
      case O_PORT: o->port = (int)parse_number("--port", optarg, 1, 65535); break;
      case O_SCENARIO: o->scenario = optarg; break;
      case O_QTYPE: o->queue_type = optarg; break;
      case O_COUNT:
        o->count = parse_number("--count", optarg, 1, 100000000UL);
        break;
      case O_WINDOW:
        o->window = parse_number("--window", optarg, 1, 100000000UL);
        break;
      case O_PREFETCH:
        o->prefetch = parse_number("--prefetch", optarg, 1, 65535);
        break;
      case O_BODY:
        o->body_size =
            parse_number("--body-size", optarg, BODY_MIN_SIZE, 64UL << 20);
        break;
      case O_QUEUE: o->queue = optarg; break;
      case O_HELP: usage(stdout); exit(0);
      default: /* '?': unknown option (optopt 0) or missing value */
        if (optopt)
          die("option '%s' needs a value (see --help)", argv[optind - 1]);
        die("unknown option '%s' (see --help)", argv[optind - 1]);
    }
  }
  if (optind < argc) die("unexpected argument '%s'", argv[optind]);
  if (!o->scenario) die("--scenario is required (publish or consume)");
  if (strcmp(o->scenario, "publish") && strcmp(o->scenario, "consume"))
    die("--scenario must be publish or consume, not '%s'", o->scenario);
  if (!o->queue_type) die("--queue-type is required (classic or quorum)");
  if (strcmp(o->queue_type, "classic") && strcmp(o->queue_type, "quorum"))
    die("--queue-type must be classic or quorum, not '%s'", o->queue_type);
  if (!o->count) die("--count is required (a number > 0)");
  if (o->queue && (!*o->queue || strlen(o->queue) >= sizeof g_queue - 1))
    die("--queue: name must be 1-%zu bytes", sizeof g_queue - 2);
}

/* ------------------------------------------------------------------------ */
/* main                                                                      */
/* ------------------------------------------------------------------------ */

int main(int argc, char **argv) {
  options_t o;
  amqp_connection_state_t conn;
  timing_t t;

  parse_args(argc, argv, &o);
  if (o.queue)
    snprintf(g_queue, sizeof g_queue, "%s", o.queue);
  else
    snprintf(g_queue, sizeof g_queue, "bench.%s.%s.%ld", o.scenario,
             o.queue_type, (long)getpid());
  body_init(o.body_size);

  conn = connect_broker(&o, 0, NULL);
  g_opts = &o; /* from here on, die() deletes a declared queue */
  open_channel(conn, PUBLISH_CHANNEL);
  open_channel(conn, CLEANUP_CHANNEL);
  declare_queue(conn, CLEANUP_CHANNEL, g_queue, !strcmp(o.queue_type, "quorum"));

  if (!strcmp(o.scenario, "publish")) {
    uint32_t ready;
    t = run_publish(conn, &o);
    /* untimed sanity check: every confirmed message is in the queue */
    ready = queue_ready_count(conn, CLEANUP_CHANNEL, g_queue);
    if (ready != o.count)
      die("queue holds %" PRIu32 " messages after %lu confirmed publishes",
          ready, o.count);
  } else {
    t = run_consume(conn, &o);
  }

  delete_queue(conn, CLEANUP_CHANNEL, g_queue);
  disconnect_broker(conn);
  free(g_body);

  printf("{\"client\":\"raw-c\",\"scenario\":\"%s\",\"queue_type\":\"%s\","
         "\"count\":%lu,\"window\":%lu,\"prefetch\":%lu,\"body_size\":%lu,"
         "\"seconds\":%.6f,\"msgs_per_s\":%.1f,\"client_cpu_s\":%.3f}\n",
         o.scenario, o.queue_type, o.count, o.window, o.prefetch, o.body_size,
         t.seconds, (double)o.count / t.seconds, t.cpu_s);
  return fflush(stdout) == 0 ? 0 : 1;
}
