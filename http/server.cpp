#include "http/server.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <boost/json/serialize.hpp>
#include <boost/url/parse.hpp>
#include <spdlog/spdlog.h>

namespace keyflow::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;

struct Server::State {
  asio::io_context& io;
  asio::thread_pool& workers;
  const Router& router;
  Metrics& metrics;
  ServerOptions options;
  tcp::acceptor acceptor;

  State(asio::io_context& i, asio::thread_pool& w, const Router& r, Metrics& m, ServerOptions o)
      : io(i), workers(w), router(r), metrics(m), options(o), acceptor(i) {}
};

namespace {

Request to_request(const bhttp::request<bhttp::string_body>& msg, const std::string& remote_ip) {
  Request req;
  req.method = msg.method();
  req.remote_ip = remote_ip;
  req.authorization = std::string(msg[bhttp::field::authorization]);
  req.body = msg.body();
  const auto target = boost::urls::parse_origin_form(msg.target());
  if (target) {
    req.path = std::string(target->encoded_path());
    for (const auto& param : target->params())
      req.query[param.key] = param.value;
  } else {
    req.path = std::string(msg.target());
  }
  if (req.path.size() > 1 && req.path.back() == '/') req.path.pop_back();
  return req;
}

bhttp::response<bhttp::string_body> to_message(const Response& r, unsigned version,
                                               bool keep_alive) {
  bhttp::response<bhttp::string_body> msg{r.status, version};
  msg.set(bhttp::field::server, "keyflow");
  if (!r.content_type.empty()) msg.set(bhttp::field::content_type, r.content_type);
  for (const auto& [name, value] : r.headers)
    msg.set(name, value);
  msg.body() = r.json ? boost::json::serialize(*r.json) : r.text;
  msg.keep_alive(keep_alive);
  msg.prepare_payload();
  return msg;
}

asio::awaitable<void> serve_connection(std::shared_ptr<Server::State> state,
                                       beast::tcp_stream stream) {
  beast::error_code ec;
  const auto remote = stream.socket().remote_endpoint(ec);
  const std::string remote_ip = ec ? std::string() : remote.address().to_string();
  beast::flat_buffer buffer;
  for (;;) {
    bhttp::request_parser<bhttp::string_body> parser;
    parser.body_limit(state->options.body_limit);
    stream.expires_after(state->options.idle_timeout);
    co_await bhttp::async_read(stream, buffer, parser,
                               asio::redirect_error(asio::use_awaitable, ec));
    if (ec == bhttp::error::end_of_stream || ec == asio::error::operation_aborted ||
        ec == beast::error::timeout) {
      break;
    }
    if (ec == bhttp::error::body_limit) {
      auto msg =
          to_message(error_response(bhttp::status::payload_too_large, "payload_too_large",
                                    "body larger than " +
                                        std::to_string(state->options.body_limit) + " bytes"),
                     11, false);
      co_await bhttp::async_write(stream, msg, asio::redirect_error(asio::use_awaitable, ec));
      break;
    }
    if (ec) {
      if (ec != asio::error::connection_reset && ec != asio::error::eof) {
        auto msg = to_message(
            error_response(bhttp::status::bad_request, "bad_request", "malformed HTTP request"), 11,
            false);
        co_await bhttp::async_write(stream, msg, asio::redirect_error(asio::use_awaitable, ec));
      }
      break;
    }
    const auto& message = parser.get();
    Request request = to_request(message, remote_ip);
    // The handler blocks on the database: run it on the worker pool, resume here after.
    Response response = co_await asio::co_spawn(
        state->workers,
        [&]() -> asio::awaitable<Response> { co_return state->router.dispatch(request); },
        asio::use_awaitable);
    state->metrics
        .counter("keyflow_http_requests_total{code=\"" +
                     std::to_string(static_cast<unsigned>(response.status)) + "\"}",
                 "HTTP requests served, by status code")
        .inc();
    const bool keep_alive = message.keep_alive();
    auto out = to_message(response, message.version(), keep_alive);
    stream.expires_after(state->options.idle_timeout);
    co_await bhttp::async_write(stream, out, asio::redirect_error(asio::use_awaitable, ec));
    if (ec || !keep_alive) break;
  }
  stream.socket().shutdown(tcp::socket::shutdown_send, ec);
}

asio::awaitable<void> accept_loop(std::shared_ptr<Server::State> state) {
  for (;;) {
    beast::error_code ec;
    auto socket = co_await state->acceptor.async_accept(
        asio::make_strand(state->io), asio::redirect_error(asio::use_awaitable, ec));
    if (ec == asio::error::operation_aborted || !state->acceptor.is_open()) co_return;
    if (ec) {
      spdlog::warn("accept failed: {}", ec.message());
      continue;
    }
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

Server::Server(asio::io_context& io, asio::thread_pool& workers, const Router& router,
               Metrics& metrics, ServerOptions options)
    : state_(std::make_shared<State>(io, workers, router, metrics, options)) {}

Server::~Server() {
  stop();
}

void Server::listen(const tcp::endpoint& endpoint) {
  auto& acceptor = state_->acceptor;
  acceptor.open(endpoint.protocol());
  acceptor.set_option(asio::socket_base::reuse_address(true));
  acceptor.bind(endpoint);
  acceptor.listen(asio::socket_base::max_listen_connections);
  asio::co_spawn(asio::make_strand(state_->io), accept_loop(state_), asio::detached);
}

tcp::endpoint Server::endpoint() const {
  return state_->acceptor.local_endpoint();
}

void Server::stop() {
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
  if (ec) throw std::invalid_argument("not an IP address: " + host);
  const int port = std::stoi(address.substr(colon + 1));
  if (port < 0 || port > 65535) throw std::invalid_argument("bad port in " + address);
  return {ip, static_cast<unsigned short>(port)};
}

}  // namespace keyflow::http
