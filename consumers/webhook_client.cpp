#include "consumers/webhook_client.hpp"

#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <unordered_map>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/url/parse.hpp>
#include <openssl/ssl.h>

#include "engine/core/encoding.hpp"
#include "engine/webhooks/destination_policy.hpp"

namespace keyflow {
namespace {

// The resolver's address in the destination policy's form.
IpBytes ip_bytes(const boost::asio::ip::address& address) {
  if (address.is_v4()) return ipv4_bytes(address.to_v4().to_uint());
  return address.to_v6().to_bytes();
}

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using SteadyClock = std::chrono::steady_clock;

constexpr auto kUseTuple = asio::as_tuple(asio::use_awaitable);

struct Target {
  bool tls = false;
  std::string host;  // for DNS, SNI and certificate checks; IPv6 without brackets
  bool host_is_ip = false;
  std::string port;
  std::string host_header;  // host[:port] as in the URL
  std::string path;         // path and query
  std::string pool_key;
};

std::optional<Target> parse_target(std::string_view url, std::string& error) {
  auto parsed = boost::urls::parse_uri(url);
  if (!parsed) {
    error = "invalid URL: " + parsed.error().message();
    return std::nullopt;
  }
  const auto& u = *parsed;
  Target t;
  if (u.scheme_id() == boost::urls::scheme::https) {
    t.tls = true;
  } else if (u.scheme_id() != boost::urls::scheme::http) {
    error = "invalid URL: scheme must be http or https";
    return std::nullopt;
  }
  if (u.host_type() == boost::urls::host_type::none || u.encoded_host().empty()) {
    error = "invalid URL: no host";
    return std::nullopt;
  }
  if (u.host_type() == boost::urls::host_type::ipvfuture) {
    error = "invalid URL: unsupported host";
    return std::nullopt;
  }
  t.host = u.host_address();
  t.host_is_ip = u.host_type() != boost::urls::host_type::name;
  t.port = u.has_port() ? std::string(u.port()) : (t.tls ? "443" : "80");
  t.host_header = u.encoded_host_and_port();
  t.path = u.encoded_target();
  if (t.path.empty()) t.path = "/";
  t.pool_key = (t.tls ? "https://" : "http://") + t.host + ":" + t.port;
  return t;
}

struct Connection {
  std::unique_ptr<beast::tcp_stream> plain;
  std::unique_ptr<beast::ssl_stream<beast::tcp_stream>> tls;
  SteadyClock::time_point idle_since;

  beast::tcp_stream& lowest() { return tls ? beast::get_lowest_layer(*tls) : *plain; }
};

struct Exchange {
  int status = 0;
  std::string body;         // its first WebhookResponse::kKeptBodyBytes
  std::string retry_after;  // the Retry-After header, when there is one
  bool reusable = false;
  bool got_some = false;  // some bytes of a response arrived
  beast::error_code ec;
  const char* stage = "";
};

template <class Stream>
asio::awaitable<Exchange> exchange(Stream& stream, const http::request<http::string_body>& req,
                                   std::size_t body_limit) {
  Exchange x;
  auto [write_ec, written] = co_await http::async_write(stream, req, kUseTuple);
  if (write_ec) {
    x.ec = write_ec;
    x.stage = "write";
    co_return x;
  }
  beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.body_limit(body_limit);
  auto [header_ec, header_bytes] =
      co_await http::async_read_header(stream, buffer, parser, kUseTuple);
  x.got_some = parser.got_some();
  if (header_ec) {
    x.ec = header_ec;
    x.stage = "read";
    co_return x;
  }
  // The status line decides the delivery; the body only has to be drained for reuse.
  x.status = static_cast<int>(parser.get().result_int());
  if (const auto it = parser.get().find(http::field::retry_after); it != parser.get().end()) {
    x.retry_after = std::string(it->value().substr(0, 64));
  }
  auto [body_ec, body_bytes] = co_await http::async_read(stream, buffer, parser, kUseTuple);
  x.reusable = !body_ec && parser.is_done() && parser.get().keep_alive() && buffer.size() == 0;
  const auto& body = parser.get().body();
  // The delivery log stores it as text: whatever bytes the receiver sent, valid UTF-8.
  x.body = valid_utf8(std::string_view(body).substr(0, WebhookResponse::kKeptBodyBytes));
  co_return x;
}

std::string describe(const char* stage, const beast::error_code& ec,
                     std::chrono::milliseconds timeout) {
  if (ec == beast::error::timeout || ec == asio::error::operation_aborted) {
    return std::string(stage) + ": timed out after " + std::to_string(timeout.count()) + " ms";
  }
  return std::string(stage) + ": " + ec.message();
}

}  // namespace

struct WebhookClient::Impl {
  Impl(asio::any_io_executor ex, Options opts)
      : executor(std::move(ex)), options(std::move(opts)), tls_context(ssl::context::tls_client) {
    tls_context.set_default_verify_paths();
    if (!options.ca_file.empty()) tls_context.load_verify_file(options.ca_file);
    tls_context.set_verify_mode(ssl::verify_peer);
    SSL_CTX_set_min_proto_version(tls_context.native_handle(), TLS1_2_VERSION);
  }

  // A URL's parts, parsed once: deliveries to one subscription POST to the same URL.
  std::shared_ptr<const Target> target_of(const std::string& url, std::string& error) {
    {
      std::lock_guard lock(mutex);
      if (const auto it = targets.find(url); it != targets.end()) return it->second;
    }
    auto parsed = parse_target(url, error);
    if (!parsed) return nullptr;
    auto target = std::make_shared<const Target>(std::move(*parsed));
    std::lock_guard lock(mutex);
    if (targets.size() >= kMaxTargets) targets.clear();  // a bound, not a policy: rarely hit
    targets.emplace(url, target);
    return target;
  }

  std::unique_ptr<Connection> take_idle(const std::string& key) {
    std::lock_guard lock(mutex);
    auto it = idle.find(key);
    if (it == idle.end()) return nullptr;
    auto& list = it->second;
    const auto now = SteadyClock::now();
    while (!list.empty()) {
      auto conn = std::move(list.back());
      list.pop_back();
      if (now - conn->idle_since < options.idle_timeout) return conn;
    }
    return nullptr;
  }

  void put_idle(const std::string& key, std::unique_ptr<Connection> conn) {
    conn->lowest().expires_never();
    conn->idle_since = SteadyClock::now();
    std::lock_guard lock(mutex);
    auto& list = idle[key];
    if (list.size() < options.max_idle_per_host) list.push_back(std::move(conn));
  }

  // Resolves, drops every address the destination policy refuses, connects to the rest and
  // shakes hands. nullptr and error on failure.
  static asio::awaitable<std::unique_ptr<Connection>> connect(std::shared_ptr<Impl> self,
                                                              const Target& target,
                                                              SteadyClock::time_point deadline,
                                                              std::string& error) {
    auto resolver = std::make_shared<tcp::resolver>(self->executor);
    // Resolvers take no deadline; a timer cancels the lookup instead. It holds the resolver by
    // shared_ptr because its handler may already be queued when the lookup completes.
    asio::steady_timer watchdog(self->executor);
    watchdog.expires_at(deadline);
    watchdog.async_wait([resolver](const beast::error_code& ec) {
      if (!ec) resolver->cancel();
    });
    auto [resolve_ec, results] =
        co_await resolver->async_resolve(target.host, target.port, kUseTuple);
    watchdog.cancel();
    if (resolve_ec) {
      error = describe("resolve", resolve_ec, self->options.timeout);
      co_return nullptr;
    }
    std::vector<tcp::endpoint> allowed;
    std::string refused;
    for (const auto& entry : results) {
      const auto address = ip_bytes(entry.endpoint().address());
      if (self->options.destinations.allows(address)) {
        allowed.push_back(entry.endpoint());
      } else if (refused.empty()) {
        refused =
            to_string(address) + " (" + std::string(to_string(classify_destination(address))) + ")";
      }
    }
    if (allowed.empty()) {
      error = "destination refused: " + target.host + " resolves to " + refused +
              ", which webhooks may not target";
      co_return nullptr;
    }

    auto conn = std::make_unique<Connection>();
    beast::tcp_stream stream(self->executor);
    stream.expires_at(deadline);
    auto [connect_ec, endpoint] = co_await stream.async_connect(allowed, kUseTuple);
    if (connect_ec) {
      error = describe("connect", connect_ec, self->options.timeout);
      co_return nullptr;
    }
    stream.socket().set_option(tcp::no_delay(true));
    if (!target.tls) {
      conn->plain = std::make_unique<beast::tcp_stream>(std::move(stream));
      co_return conn;
    }
    conn->tls = std::make_unique<beast::ssl_stream<beast::tcp_stream>>(std::move(stream),
                                                                       self->tls_context);
    // SNI carries names only; certificates of IP literals are checked against their SANs.
    // SSL_set_tlsext_host_name, spelled out: the macro casts in C style.
    if (!target.host_is_ip &&
        SSL_ctrl(conn->tls->native_handle(), SSL_CTRL_SET_TLSEXT_HOSTNAME,
                 TLSEXT_NAMETYPE_host_name, const_cast<char*>(target.host.c_str())) != 1) {
      error = "TLS: cannot set server name";
      co_return nullptr;
    }
    conn->tls->set_verify_callback(ssl::host_name_verification(target.host));
    auto [handshake_ec] = co_await conn->tls->async_handshake(ssl::stream_base::client, kUseTuple);
    if (handshake_ec) {
      error = describe("TLS handshake", handshake_ec, self->options.timeout);
      co_return nullptr;
    }
    co_return conn;
  }

  static asio::awaitable<WebhookResponse> post(std::shared_ptr<Impl> self, WebhookRequest request) {
    const auto started = SteadyClock::now();
    const auto deadline = started + self->options.timeout;
    WebhookResponse response;
    std::string error;
    const auto target = self->target_of(request.url, error);
    if (!target) {
      response.error = error;
      co_return response;
    }

    http::request<http::string_body> req{http::verb::post, target->path, 11};
    req.set(http::field::host, target->host_header);
    for (const auto& [name, value] : request.headers)
      req.set(name, value);
    req.body() = std::move(request.body);
    req.keep_alive(true);
    req.prepare_payload();

    for (int round = 0; round < 2; ++round) {
      // The second round is on a new connection: other idle ones may be as stale.
      auto conn = round == 0 ? self->take_idle(target->pool_key) : nullptr;
      const bool reused = conn != nullptr;
      if (!conn) {
        conn = co_await connect(self, *target, deadline, error);
        if (!conn) {
          response.error = error;
          break;
        }
      }
      conn->lowest().expires_at(deadline);
      // Not `tls ? co_await a : co_await b`: GCC 12 destroys the temporary of a co_await in a
      // conditional expression twice once it has members that own memory.
      Exchange x;
      if (conn->tls) {
        x = co_await exchange(*conn->tls, req, self->options.max_response_body);
      } else {
        x = co_await exchange(*conn->plain, req, self->options.max_response_body);
      }
      if (x.status != 0) {
        response.status_code = x.status;
        response.body = std::move(x.body);
        response.retry_after = std::move(x.retry_after);
        if (x.reusable) self->put_idle(target->pool_key, std::move(conn));
        break;
      }
      // A kept-alive connection that the receiver closed meanwhile fails before the first byte
      // of a response: try once more on a new connection.
      if (reused && !x.got_some && x.ec != beast::error::timeout) continue;
      response.error = describe(x.stage, x.ec, self->options.timeout);
      break;
    }
    response.latency =
        std::chrono::duration_cast<std::chrono::milliseconds>(SteadyClock::now() - started);
    co_return response;
  }

  asio::any_io_executor executor;
  Options options;
  ssl::context tls_context;
  mutable std::mutex mutex;
  std::unordered_map<std::string, std::vector<std::unique_ptr<Connection>>> idle;
  static constexpr std::size_t kMaxTargets = 4096;
  std::unordered_map<std::string, std::shared_ptr<const Target>> targets;
};

WebhookClient::WebhookClient(asio::any_io_executor executor, Options options)
    : impl_(std::make_shared<Impl>(std::move(executor), std::move(options))) {}

WebhookClient::~WebhookClient() {
  std::lock_guard lock(impl_->mutex);
  impl_->idle.clear();
}

asio::awaitable<WebhookResponse> WebhookClient::post(WebhookRequest request) {
  return Impl::post(impl_, std::move(request));
}

void WebhookClient::post(WebhookRequest request, std::function<void(WebhookResponse)> done) {
  auto self = impl_;
  asio::co_spawn(self->executor, Impl::post(self, std::move(request)),
                 [done = std::move(done)](std::exception_ptr failure, WebhookResponse response) {
                   if (failure) {
                     // Only a bug or an allocation failure gets here; report it as a failed try.
                     response = WebhookResponse{};
                     try {
                       std::rethrow_exception(failure);
                     } catch (const std::exception& e) {
                       response.error = std::string("internal error: ") + e.what();
                     } catch (...) {
                       response.error = "internal error";
                     }
                   }
                   done(std::move(response));
                 });
}

}  // namespace keyflow
