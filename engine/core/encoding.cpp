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

char base62_digit(unsigned value) {
  return kBase62[value];
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

std::string valid_utf8(std::string_view text) {
  constexpr std::string_view kReplacement = "\xEF\xBF\xBD";
  std::string out;
  out.reserve(text.size());
  const auto byte = [&](std::size_t i) { return static_cast<unsigned char>(text[i]); };
  for (std::size_t i = 0; i < text.size();) {
    const unsigned char c = byte(i);
    std::size_t length = 0;
    std::uint32_t min = 0;
    if (c >= 0x01 && c < 0x80) {
      length = 1;
    } else if ((c & 0xE0) == 0xC0) {
      length = 2, min = 0x80;
    } else if ((c & 0xF0) == 0xE0) {
      length = 3, min = 0x800;
    } else if ((c & 0xF8) == 0xF0) {
      length = 4, min = 0x10000;
    }
    bool ok = length > 0 && i + length <= text.size();
    std::uint32_t code = length == 1 ? c : c & (0x7F >> length);
    for (std::size_t k = 1; ok && k < length; ++k) {
      ok = (byte(i + k) & 0xC0) == 0x80;
      code = code << 6 | (byte(i + k) & 0x3F);
    }
    if (ok && length > 1)
      ok = code >= min && code <= 0x10FFFF && !(code >= 0xD800 && code <= 0xDFFF);
    if (ok) {
      out.append(text.substr(i, length));
      i += length;
    } else {
      out.append(kReplacement);
      ++i;
    }
  }
  return out;
}

}  // namespace keyflow
