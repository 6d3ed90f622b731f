#include "http/server.hpp"

#include <array>
#include <charconv>
#include <cstring>
#include <thread>
#include <variant>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <boost/json/serialize.hpp>
#include <spdlog/spdlog.h>

#include "engine/core/errc.hpp"
#include "engine/core/log_limiter.hpp"
#include "engine/core/logging.hpp"
#include "engine/core/non_blocking.hpp"
#include "engine/core/trace_context.hpp"
#include "http/error_mapping.hpp"
#include "http/request_target.hpp"
#include "http/request_telemetry.hpp"

namespace keyflow::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;

struct Server::State {
  std::vector<asio::io_context*> contexts;
  std::atomic<std::size_t> next_context{0};  // where the next connection goes
  asio::thread_pool& workers;
  const Router& router;
  ServerOptions options;
  tcp::acceptor acceptor;
  std::atomic<std::size_t> connections{0};
  std::atomic<std::size_t> queued{0};     // requests on the worker pool
  std::atomic<std::size_t> answering{0};  // requests read whose answer is not written yet
  std::atomic<bool> stopping{false};      // after stop(): answer, then close the connection
  LogLimiter accept_errors;
  RequestTelemetry telemetry;

  State(std::vector<asio::io_context*> c, asio::thread_pool& w, const Router& r, Metrics& m,
        ServerOptions o)
      : contexts(std::move(c)),
        workers(w),
        router(r),
        options(o),
        acceptor(*contexts.at(0)),
        telemetry(m) {}
};

namespace {

using Parser = bhttp::request_parser<bhttp::string_body>;

// A response header may carry only what a header can hold: a name or value with CR, LF or
// NUL would split the response, so such a header is dropped (and reported) instead.
// One more in count for the life of the object, however the scope ends.
class ScopedCount {
 public:
  explicit ScopedCount(std::atomic<std::size_t>& count) : count_(count) { ++count_; }
  ~ScopedCount() { --count_; }
  ScopedCount(const ScopedCount&) = delete;
  ScopedCount& operator=(const ScopedCount&) = delete;

 private:
  std::atomic<std::size_t>& count_;
};

bool header_safe(std::string_view text) {
  return text.find_first_of(std::string_view("\r\n\0", 3)) == std::string_view::npos;
}

bhttp::response<bhttp::string_body> to_message(Response&& r, unsigned version, bool keep_alive,
                                               std::string_view request_id) {
  bhttp::response<bhttp::string_body> msg{r.status, version};
  msg.set(bhttp::field::server, "keyflow");
  msg.set("X-Request-Id", request_id);  // a plain token (request_id_of)
  if (!r.content_type.empty()) msg.set(bhttp::field::content_type, r.content_type);
  for (const auto& [name, value] : r.headers) {
    if (header_safe(name) && header_safe(value)) {
      msg.set(name, value);
    } else {
      spdlog::error("dropped a response header holding CR, LF or NUL ({} bytes)", name.size());
    }
  }
  msg.body() = r.json ? boost::json::serialize(*r.json) : std::move(r.text);
  msg.keep_alive(keep_alive);
  msg.prepare_payload();
  return msg;
}

// The request a handler sees; a target whose query is not text answers 400/422 instead.
std::variant<Request, Response> to_request(const bhttp::request<bhttp::string_body>& msg,
                                           const std::string& remote_ip,
                                           const std::string& request_id) {
  Request req;
  req.request_id = request_id;
  req.traceparent = valid_traceparent(msg["traceparent"]).value_or("");
  req.method = msg.method();
  req.remote_ip = remote_ip;
  req.authorization = std::string(msg[bhttp::field::authorization]);
  try {
    auto target = parse_request_target(msg.target());
    req.path = std::move(target.path);
    req.query = std::move(target.query);
  } catch (const Error& e) {
    const auto mapped = map_error(e.kind());
    return error_response(mapped.status, mapped.code, e.message(), e.field());
  }
  req.body = msg.body();
  return req;
}

// Why a request could not be read, as the response to send before closing; nullopt for the
// normal ends of a connection (the client closed, went quiet, or the server stops).
std::optional<Response> read_failure(const beast::error_code& ec, const ServerOptions& options) {
  if (ec == bhttp::error::end_of_stream || ec == asio::error::operation_aborted ||
      ec == beast::error::timeout || ec == asio::error::connection_reset ||
      ec == asio::error::eof || ec == bhttp::error::partial_message) {
    return std::nullopt;
  }
  if (ec == bhttp::error::body_limit) {
    return error_response(bhttp::status::payload_too_large, "payload_too_large",
                          "body larger than " + std::to_string(options.body_limit) + " bytes");
  }
  if (ec == bhttp::error::header_limit) {
    return error_response(
        bhttp::status::request_header_fields_too_large, "headers_too_large",
        "request line and headers larger than " + std::to_string(options.header_limit) + " bytes");
  }
  return error_response(bhttp::status::bad_request, "bad_request", "malformed HTTP request");
}

// Limits Beast's parser does not check itself; nullopt when the header is acceptable.
std::optional<Response> header_failure(const Parser& parser, const ServerOptions& options) {
  const auto& msg = parser.get();
  if (msg.target().size() > options.max_target_bytes) {
    return error_response(
        bhttp::status::uri_too_long, "uri_too_long",
        "request target longer than " + std::to_string(options.max_target_bytes) + " bytes");
  }
  if (static_cast<std::size_t>(std::distance(msg.begin(), msg.end())) > options.max_header_count) {
    return error_response(bhttp::status::request_header_fields_too_large, "headers_too_large",
                          "more than " + std::to_string(options.max_header_count) + " headers");
  }
  return std::nullopt;
}

// The response when the request can be answered on this thread: a route that never blocks,
// or a cache_first one that found what it needed in memory. nullopt: it needs a worker.
std::optional<Response> answer_here(const Router& router, Request& request,
                                    const Router::Match& route) {
  const RequestIdScope logging_as(request.request_id);
  const TraceScope tracing(request.traceparent);
  switch (route.runs()) {
    case Router::Runs::inline_:
      return router.dispatch(request, route);
    case Router::Runs::cache_first: {
      NonBlockingScope no_blocking;
      try {
        return router.dispatch(request, route);
      } catch (const WouldBlock&) {
        return std::nullopt;
      }
    }
    case Router::Runs::on_workers:
      break;
  }
  return std::nullopt;
}

Response overloaded() {
  auto response = error_response(bhttp::status::service_unavailable, "overloaded",
                                 "the server is busy; retry shortly");
  response.headers.emplace_back("Retry-After", "1");
  return response;
}

asio::awaitable<void> serve_connection(std::shared_ptr<Server::State> state,
                                       beast::tcp_stream stream) {
  struct Slot {  // the connection's place under max_connections, freed however it ends
    std::atomic<std::size_t>& count;
    ~Slot() { --count; }
  } slot{state->connections};
  const auto& options = state->options;
  beast::error_code ec;
  const auto remote = stream.socket().remote_endpoint(ec);
  const std::string remote_ip = ec ? std::string() : remote.address().to_string();
  beast::flat_buffer buffer;
  // A request that cannot be read is answered, counted and logged as unmatched.
  const auto fail = [&](Response response) -> asio::awaitable<void> {
    const auto id = request_id_of({});
    state->telemetry.record(nullptr, "", static_cast<unsigned>(response.status),
                            std::chrono::steady_clock::duration::zero(), id);
    auto msg = to_message(std::move(response), 11, false, id);
    stream.expires_after(options.idle_timeout);
    co_await bhttp::async_write(stream, msg, asio::redirect_error(asio::use_awaitable, ec));
  };
  for (;;) {
    // Between requests a client may stay quiet up to the idle timeout; once its next request
    // has begun, its header must arrive within the (shorter) header timeout.
    if (buffer.size() == 0) {
      stream.expires_after(options.idle_timeout);
      const auto n = co_await stream.async_read_some(buffer.prepare(4096),
                                                     asio::redirect_error(asio::use_awaitable, ec));
      if (ec) break;
      buffer.commit(n);
    }
    Parser parser;
    parser.header_limit(static_cast<std::uint32_t>(options.header_limit));
    parser.body_limit(options.body_limit);
    stream.expires_after(options.header_timeout);
    co_await bhttp::async_read_header(stream, buffer, parser,
                                      asio::redirect_error(asio::use_awaitable, ec));
    if (ec) {
      if (auto response = read_failure(ec, options)) co_await fail(*response);
      break;
    }
    if (auto response = header_failure(parser, options)) {
      co_await fail(*response);
      break;
    }
    stream.expires_after(options.idle_timeout);
    co_await bhttp::async_read(stream, buffer, parser,
                               asio::redirect_error(asio::use_awaitable, ec));
    if (ec) {
      if (auto response = read_failure(ec, options)) co_await fail(*response);
      break;
    }
    const auto& message = parser.get();
    const ScopedCount answering(state->answering);  // until its answer is written
    const auto started = std::chrono::steady_clock::now();
    const auto request_id = request_id_of(message["X-Request-Id"]);
    auto parsed = to_request(message, remote_ip, request_id);
    Response response;
    const Router::Route* matched = nullptr;
    if (auto* bad = std::get_if<Response>(&parsed)) {
      response = std::move(*bad);
    } else {
      auto& request = std::get<Request>(parsed);
      const auto route = state->router.route(request);
      matched = route.route;
      if (auto answered = answer_here(state->router, request, route)) {
        response = std::move(*answered);
      } else if (state->queued.load(std::memory_order_relaxed) >= options.max_queued) {
        response = overloaded();
      } else {
        // The handler blocks on the database: run it on the worker pool, resume here after.
        const ScopedCount queued(state->queued);  // its place on the pool, however it ends
        response = co_await asio::co_spawn(
            state->workers,
            [&]() -> asio::awaitable<Response> {
              const RequestIdScope logging_as(request.request_id);
              const TraceScope tracing(request.traceparent);
              co_return state->router.dispatch(request, route);
            },
            asio::use_awaitable);
      }
    }
    state->telemetry.record(matched, bhttp::to_string(message.method()),
                            static_cast<unsigned>(response.status),
                            std::chrono::steady_clock::now() - started, request_id);
    // A stopping server answers what it has read, then closes: the client goes elsewhere.
    const bool keep_alive = message.keep_alive() && !state->stopping.load();
    auto out = to_message(std::move(response), message.version(), keep_alive, request_id);
    stream.expires_after(options.idle_timeout);
    co_await bhttp::async_write(stream, out, asio::redirect_error(asio::use_awaitable, ec));
    if (ec || !keep_alive) break;
  }
  stream.socket().shutdown(tcp::socket::shutdown_send, ec);
}

asio::awaitable<void> pause(std::chrono::milliseconds for_how_long) {
  asio::steady_timer timer(co_await asio::this_coro::executor, for_how_long);
  beast::error_code ec;
  co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
}

asio::awaitable<void> accept_loop(std::shared_ptr<Server::State> state) {
  constexpr std::chrono::milliseconds kMinBackoff{10}, kMaxBackoff{1000};
  auto backoff = kMinBackoff;
  for (;;) {
    // At the connection cap, further clients wait in the listen backlog until one leaves.
    while (state->connections.load() >= state->options.max_connections &&
           state->acceptor.is_open()) {
      co_await pause(kMinBackoff);
    }
    beast::error_code ec;
    auto& context = *state->contexts[state->next_context++ % state->contexts.size()];  // in turn
    auto socket = co_await state->acceptor.async_accept(
        context.get_executor(), asio::redirect_error(asio::use_awaitable, ec));
    if (ec == asio::error::operation_aborted || !state->acceptor.is_open()) co_return;
    if (ec) {
      // Out of descriptors (EMFILE, ENFILE) or memory: retrying at once would spin and log
      // without end. Back off, and log once a second with a count.
      if (const auto count = state->accept_errors.admit(std::chrono::steady_clock::now())) {
        // strerror, not ec.message(): no virtual call in a process out of descriptors, where
        // UndefinedBehaviorSanitizer's vptr check cannot read /proc/self/maps.
        spdlog::warn(
            "accept failed: {} ({} failures since the last such line; {} open "
            "connections)",
            std::strerror(ec.value()), count, state->connections.load());
      }
      co_await pause(backoff);
      backoff = std::min(backoff * 2, kMaxBackoff);
      continue;
    }
    backoff = kMinBackoff;
    ++state->connections;
    auto executor = socket.get_executor();
    asio::co_spawn(executor, serve_connection(state, beast::tcp_stream(std::move(socket))),
                   [](std::exception_ptr e) {
                     if (!e) return;
                     try {
                       std::rethrow_exception(e);
                     } catch (const std::exception& ex) {
                       spdlog::warn("connection ended: {}", ex.what());
                     }
                   });
  }
}

}  // namespace

Server::Server(std::vector<asio::io_context*> contexts, asio::thread_pool& workers,
               const Router& router, Metrics& metrics, ServerOptions options)
    : state_(std::make_shared<State>(std::move(contexts), workers, router, metrics, options)) {}

Server::~Server() {
  stop();
}

void Server::listen(const tcp::endpoint& endpoint) {
  auto& acceptor = state_->acceptor;
  beast::error_code ec;
  acceptor.open(endpoint.protocol(), ec);
  if (!ec) acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acceptor.bind(endpoint, ec);
  if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    acceptor.close();
    throw std::runtime_error("cannot listen on " + endpoint.address().to_string() + ":" +
                             std::to_string(endpoint.port()) + ": " + ec.message());
  }
  asio::co_spawn(state_->acceptor.get_executor(), accept_loop(state_), asio::detached);
}

tcp::endpoint Server::endpoint() const {
  return state_->acceptor.local_endpoint();
}

bool Server::wait_answered(std::chrono::milliseconds timeout) const {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (state_->answering.load() > 0) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return true;
}

void Server::stop() {
  state_->stopping = true;
  asio::post(state_->acceptor.get_executor(), [state = state_] {
    beast::error_code ec;
    state->acceptor.close(ec);
  });
}

tcp::endpoint parse_endpoint(const std::string& address) {
  const auto colon = address.rfind(':');
  if (colon == std::string::npos) throw std::invalid_argument("expected host:port in " + address);
  std::string host = address.substr(0, colon);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  boost::system::error_code ec;
  const auto ip = asio::ip::make_address(host.empty() ? "0.0.0.0" : host, ec);
  if (ec) throw std::invalid_argument("not an IP address in " + address + ": " + host);
  const std::string_view digits = std::string_view(address).substr(colon + 1);
  unsigned port = 0;
  const auto [end, perr] = std::from_chars(digits.data(), digits.data() + digits.size(), port);
  if (digits.empty() || perr != std::errc() || end != digits.data() + digits.size() ||
      port > 65535) {
    throw std::invalid_argument("not a port from 0 to 65535 in " + address);
  }
  return {ip, static_cast<unsigned short>(port)};
}

}  // namespace keyflow::http
