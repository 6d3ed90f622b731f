#include "http/authenticator.hpp"

#include <algorithm>
#include <cctype>

#include <sodium.h>
#include <spdlog/spdlog.h>

namespace keyflow::http {
namespace {

Bytes digest(std::string_view text) {
  Bytes out(crypto_generichash_BYTES);
  crypto_generichash(out.data(), out.size(), reinterpret_cast<const unsigned char*>(text.data()),
                     text.size(), nullptr, 0);
  return out;
}

}  // namespace

Authenticator::Authenticator(std::string_view admin_token, KeyLookup key_lookup)
    : admin_digest_(digest(admin_token)), key_lookup_(std::move(key_lookup)) {
  if (admin_token.empty()) admin_digest_.clear();
}

std::optional<Actor> Authenticator::authenticate(std::string_view header,
                                                 std::string_view remote_ip) const {
  constexpr std::string_view kBearer = "Bearer ";
  // The scheme is case-insensitive (RFC 7235), the token is not.
  const auto same = [](char x, char y) {
    return std::tolower(static_cast<unsigned char>(x)) ==
           std::tolower(static_cast<unsigned char>(y));
  };
  if (header.size() <= kBearer.size() ||
      !std::equal(kBearer.begin(), kBearer.end(), header.begin(), same)) {
    return std::nullopt;
  }
  const auto token = header.substr(kBearer.size());
  if (!admin_digest_.empty()) {
    const auto presented = digest(token);
    if (sodium_memcmp(presented.data(), admin_digest_.data(), presented.size()) == 0) {
      return Actor::admin();
    }
  }
  if (key_lookup_) {
    if (auto key = key_lookup_(token, remote_ip)) return Actor::key(*key);
  }
  if (const auto count = rejections_.admit(std::chrono::steady_clock::now())) {
    spdlog::info("rejected a bearer credential from {} ({} rejected since the last such line)",
                 remote_ip, count);
  }
  return std::nullopt;
}

}  // namespace keyflow::http
