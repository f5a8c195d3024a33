// The only C the AMQP module needs beyond librabbitmq's own headers.
//
// rabbitmq-c 0.11 (Debian 12) installs <amqp.h>; 0.13 and later install
// <rabbitmq-c/amqp.h>. Both are found here.
#ifndef CRABBITMQ_SHIM_H
#define CRABBITMQ_SHIM_H

#if __has_include(<rabbitmq-c/amqp.h>)
#include <rabbitmq-c/amqp.h>
#include <rabbitmq-c/tcp_socket.h>
#include <rabbitmq-c/ssl_socket.h>
#else
#include <amqp.h>
#include <amqp_tcp_socket.h>
#include <amqp_ssl_socket.h>
#endif

/// `amqp_login_with_properties` is variadic, which Swift cannot call: this fixes
/// the SASL method to PLAIN and passes user and password.
static inline amqp_rpc_reply_t crabbitmq_login_plain(
    amqp_connection_state_t state, const char *vhost, int channel_max,
    int frame_max, int heartbeat, const amqp_table_t *client_properties,
    const char *user, const char *password) {
  return amqp_login_with_properties(state, vhost, channel_max, frame_max,
                                    heartbeat, client_properties,
                                    AMQP_SASL_METHOD_PLAIN, user, password);
}

#endif
