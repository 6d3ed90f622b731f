#include "engine/core/encoding.hpp"

#include <algorithm>

#include <sodium.h>

namespace keyflow {
namespace {
constexpr std::string_view kBase62 =
    "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
}

std::string base64_encode(std::span<const std::uint8_t> data) {
  std::string out(sodium_base64_encoded_len(data.size(), sodium_base64_VARIANT_ORIGINAL), '\0');
  sodium_bin2base64(out.data(), out.size(), data.data(), data.size(),
                    sodium_base64_VARIANT_ORIGINAL);
  out.resize(out.size() - 1);  // drop the terminating NUL sodium writes
  return out;
}

std::optional<Bytes> base64_decode(std::string_view text) {
  Bytes out(text.size() / 4 * 3 + 3);
  std::size_t len = 0;
  const char* end = nullptr;
  if (sodium_base642bin(out.data(), out.size(), text.data(), text.size(), nullptr, &len, &end,
                        sodium_base64_VARIANT_ORIGINAL) != 0 ||
      end != text.data() + text.size()) {
    return std::nullopt;
  }
  out.resize(len);
  return out;
}

std::string hex_encode(std::span<const std::uint8_t> data) {
  std::string out(data.size() * 2 + 1, '\0');
  sodium_bin2hex(out.data(), out.size(), data.data(), data.size());
  out.pop_back();
  return out;
}

std::string base62_encode(std::span<const std::uint8_t> data, std::size_t width) {
  // Repeated division of the big-endian number by 62; quadratic, but inputs are 32 bytes.
  std::vector<std::uint8_t> num(data.begin(), data.end());
  std::string digits;
  digits.reserve(width);
  while (digits.size() < width) {
    unsigned remainder = 0;
    for (auto& byte : num) {
      const unsigned acc = (remainder << 8) | byte;
      byte = static_cast<std::uint8_t>(acc / 62);
      remainder = acc % 62;
    }
    digits.push_back(kBase62[remainder]);
  }
  std::reverse(digits.begin(), digits.end());
  return digits;
}

bool is_base62(std::string_view text) {
  return std::all_of(text.begin(), text.end(), [](char c) {
    return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
  });
}

}  // namespace keyflow
