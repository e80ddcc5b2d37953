#include "actors/net/cluster.hpp"

#include <unistd.h>

#include <algorithm>
#include <memory>
#include <stdexcept>
#include <thread>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/io/middleman.hpp>
#include <caf/openssl/manager.hpp>
#include <caf/openssl/publish.hpp>
#include <caf/openssl/remote_actor.hpp>
#include <caf/sec.hpp>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "actors/local_backend.hpp"
#include "actors/runtime_info.hpp"

namespace paramserv {

namespace {

// The first queued OpenSSL error as text.
std::string openssl_reason() {
  auto code = ERR_get_error();
  ERR_clear_error();
  if (code == 0)
    return "unknown reason";
  char buf[256];
  ERR_error_string_n(code, buf, sizeof(buf));
  return buf;
}

// Loads the node's certificate, key and authority the way CAF will, so a
// mistake is an error message here rather than an abort inside CAF.
void check_tls_files(const network_options& net) {
  std::unique_ptr<SSL_CTX, decltype(&SSL_CTX_free)> ctx{
    SSL_CTX_new(TLS_method()), SSL_CTX_free};
  if (!ctx)
    throw std::invalid_argument("TLS: " + openssl_reason());
  if (SSL_CTX_use_certificate_chain_file(ctx.get(), net.tls_cert.c_str()) != 1)
    throw std::invalid_argument("--tls-cert " + net.tls_cert
                                + ": not a PEM certificate we can read ("
                                + openssl_reason() + ")");
  if (SSL_CTX_use_PrivateKey_file(
        ctx.get(), net.tls_key.c_str(), SSL_FILETYPE_PEM)
      != 1)
    throw std::invalid_argument("--tls-key " + net.tls_key
                                + ": not a PEM private key we can read ("
                                + openssl_reason() + ")");
  if (SSL_CTX_check_private_key(ctx.get()) != 1)
    throw std::invalid_argument("--tls-key " + net.tls_key
                                + " does not belong to --tls-cert "
                                + net.tls_cert);
  if (SSL_CTX_load_verify_locations(ctx.get(), net.tls_ca.c_str(), nullptr)
      != 1)
    throw std::invalid_argument("--tls-ca " + net.tls_ca
                                + ": not a PEM certificate we can read ("
                                + openssl_reason() + ")");
}

caf::timespan to_timespan(std::chrono::milliseconds t) {
  return std::chrono::duration_cast<caf::timespan>(t);
}

} // namespace

void validate(const network_options& net) {
  if (net.tls()) {
    if (net.tls_cert.empty() || net.tls_key.empty() || net.tls_ca.empty())
      throw std::invalid_argument(
        "--tls-cert, --tls-key, --tls-ca: give all three or none");
    check_tls_files(net);
  }
  if (net.heartbeat.count() <= 0 || net.connection_timeout <= net.heartbeat)
    throw std::invalid_argument("--heartbeat must be positive and below "
                                "--connection-timeout");
}

void configure_node(
  caf::actor_system_config& cfg, const network_options& net, size_t threads) {
  configure_system(cfg, threads);
  // A node shares the machine's cores with other nodes: the work-stealing
  // scheduler's polling (configure_system makes it poll for milliseconds,
  // which pays in one process) takes cores from their computing, and its
  // sleeps delay messages the network layer hands over. CAF's sharing
  // policy sleeps on a condition variable and wakes on each message.
  // Measured with paramserv launch, asp, MLP 784-200-10, 2 workers on 2
  // cores: 1.7x the samples/s at batch 64, 1.2x at 256 and 1024.
  cfg.set("scheduler.policy", caf::atom("sharing"));
  cfg.load<caf::io::middleman>();
  cfg.set("middleman.heartbeat-interval", to_timespan(net.heartbeat));
  cfg.set("middleman.connection-timeout", to_timespan(net.connection_timeout));
  if (net.tls()) {
    // With a certificate authority set, CAF's TLS requires a certificate
    // from it of every peer (and never falls back to its anonymous
    // ciphers).
    cfg.load<caf::openssl::manager>();
    cfg.openssl_certificate = net.tls_cert;
    cfg.openssl_key = net.tls_key;
    cfg.openssl_cafile = net.tls_ca;
  }
}

namespace {

template <class Handle>
uint16_t publish_handle(
  caf::actor_system& sys, const Handle& whom, const endpoint& where) {
  bool tls = sys.has_openssl_manager();
  if (!tls && !is_loopback(where.host))
    throw std::runtime_error(
      to_string(where)
      + ": a listener on an address other than loopback needs mutual TLS "
        "(--tls-cert, --tls-key, --tls-ca; paramserv certs makes them)");
  auto port = tls
                ? caf::openssl::publish(whom, where.port, where.host.c_str())
                : sys.middleman().publish(whom, where.port, where.host.c_str());
  if (!port)
    throw std::runtime_error(
      "cannot listen on " + to_string(where) + ": " + sys.render(port.error()));
  return *port;
}

} // namespace

uint16_t publish_at(
  caf::actor_system& sys, const scheduler_actor& whom, const endpoint& where) {
  return publish_handle(sys, whom, where);
}

uint16_t publish_at(
  caf::actor_system& sys, const caf::actor& whom, const endpoint& where) {
  return publish_handle(sys, whom, where);
}

scheduler_actor join_scheduler(caf::actor_system& sys, const endpoint& where,
  std::chrono::milliseconds timeout) {
  using clock = std::chrono::steady_clock;
  auto deadline = clock::now() + timeout;
  auto pause = std::chrono::milliseconds(100);
  for (;;) {
    auto handle = sys.has_openssl_manager()
                    ? caf::openssl::remote_actor<scheduler_actor>(
                      sys, where.host, where.port)
                    : sys.middleman().remote_actor<scheduler_actor>(
                      where.host, where.port);
    if (handle)
      return *handle;
    auto& err = handle.error();
    // Only "nobody listens (yet)" is worth another try; a listener that
    // speaks another interface or refuses the handshake will not change.
    bool retry = err == caf::sec::cannot_connect_to_node;
    if (!retry || clock::now() + pause > deadline)
      throw std::runtime_error(
        "cannot join the scheduler at " + to_string(where)
        + (retry ? " within " + seconds_text(timeout) : std::string{}) + ": "
        + sys.render(err));
    // Backoff between attempts (this thread has nothing else to do).
    std::this_thread::sleep_for(pause);
    pause = std::min(pause * 2, std::chrono::milliseconds(2000));
  }
}

caf::io::middleman_actor connector_of(caf::actor_system& sys) {
  if (sys.has_openssl_manager())
    return sys.openssl_manager().actor_handle();
  return sys.middleman().actor_handle();
}

std::string node_name() {
  char host[256] = {0};
  if (gethostname(host, sizeof(host) - 1) != 0)
    host[0] = '\0';
  return std::string{host[0] ? host : "host"} + ":" + std::to_string(getpid());
}

} // namespace paramserv
