// Webhook and rotation webhook URLs (engine/core/validation.hpp require_http_url).
//
// - Refusal is Error(invalid_argument) naming the field; nothing else escapes.
// - An accepted URL is at most 2048 bytes of visible ASCII (it goes into a request line and
//   a Host header), absolute, http or https, with a host, and the webhook client's own
//   reading (boost::urls::parse_uri) takes it too.
// - The destination policy refuses an accepted URL only when its host is an IP literal it
//   refuses.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include <boost/url/parse.hpp>

#include "engine/core/errc.hpp"
#include "engine/core/validation.hpp"
#include "engine/webhooks/destination_policy.hpp"
#include "tests/fuzz/fuzz_check.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view url(reinterpret_cast<const char*>(data), size);
  const bool accepted = keyflow::fuzz::accepts(
      [&] { keyflow::require_http_url(url, "url"); },
      [](const keyflow::Error& e) {
        FUZZ_CHECK(e.kind() == keyflow::errc::invalid_argument && e.field() == "url");
      });
  if (!accepted) return 0;
  FUZZ_CHECK(url.size() <= 2048);
  for (const char c : url)
    FUZZ_CHECK(c > 0x20 && c < 0x7f);
  const auto parsed = boost::urls::parse_uri(url);
  FUZZ_CHECK(parsed.has_value());
  FUZZ_CHECK(parsed->scheme_id() == boost::urls::scheme::http ||
             parsed->scheme_id() == boost::urls::scheme::https);
  FUZZ_CHECK(parsed->has_authority() && !parsed->encoded_host().empty());
  // The destination policy refuses a URL only for its IP literal, and then with the field.
  const keyflow::DestinationPolicy policy;
  const bool public_host = keyflow::fuzz::accepts(
      [&] { policy.vet_url_host(url, "url"); },
      [](const keyflow::Error& e) {
        FUZZ_CHECK(e.kind() == keyflow::errc::invalid_argument && e.field() == "url");
      });
  if (!public_host) {
    const auto address = keyflow::parse_ip_literal(parsed->encoded_host_address());
    FUZZ_CHECK(address && !policy.allows(*address));
  }
  return 0;
}
