#include "engine/keys/key_format.hpp"

#include <gtest/gtest.h>
#include <sodium.h>

namespace keyflow {
namespace {

KeySecret fixed_secret(std::uint8_t fill) {
  KeySecret s;
  s.fill(fill);
  return s;
}

TEST(KeyFormat, FormatsPrefixEnvironmentBodyAndChecksum) {
  const auto key = format_key("kf", "live", fixed_secret(0xab));
  EXPECT_TRUE(key.starts_with("kf_live_"));
  EXPECT_EQ(key.size(), std::string("kf_live_").size() + kKeyBodyChars + kKeyChecksumChars);
  const auto parts = parse_key(key);
  ASSERT_TRUE(parts.has_value());
  EXPECT_EQ(parts->prefix, "kf_live");
  EXPECT_EQ(parts->body.size(), kKeyBodyChars);
}

TEST(KeyFormat, KeyWithoutEnvironmentParses) {
  const auto key = format_key("kf", "", fixed_secret(0x01));
  EXPECT_TRUE(key.starts_with("kf_"));
  ASSERT_TRUE(parse_key(key).has_value());
  EXPECT_EQ(parse_key(key)->prefix, "kf");
}

TEST(KeyFormat, SameSecretSameKeyDifferentSecretDifferentKey) {
  EXPECT_EQ(format_key("kf", "live", fixed_secret(7)), format_key("kf", "live", fixed_secret(7)));
  EXPECT_NE(format_key("kf", "live", fixed_secret(7)), format_key("kf", "live", fixed_secret(8)));
}

TEST(KeyFormat, AllZeroSecretKeepsFixedWidth) {
  const auto key = format_key("kf", "test", fixed_secret(0));
  EXPECT_EQ(key.size(), std::string("kf_test_").size() + kKeyBodyChars + kKeyChecksumChars);
  EXPECT_TRUE(parse_key(key).has_value());
}

TEST(KeyFormat, EverySingleCharacterChangeIsRejectedByTheChecksum) {
  const auto key = format_key("kf", "live", random_key_secret());
  for (std::size_t i = 0; i < key.size(); ++i) {
    std::string bad = key;
    bad[i] = bad[i] == 'a' ? 'b' : 'a';
    EXPECT_FALSE(parse_key(bad).has_value()) << "position " << i;
  }
}

TEST(KeyFormat, TruncatedPaddedAndForeignKeysAreMalformed) {
  const auto key = format_key("kf", "live", random_key_secret());
  EXPECT_FALSE(parse_key(key.substr(0, key.size() - 1)).has_value());
  EXPECT_FALSE(parse_key(key + "x").has_value());
  EXPECT_FALSE(parse_key("").has_value());
  EXPECT_FALSE(parse_key("sk_live_4eC39HqLyjWDarjtT1zdp7dc").has_value());
  EXPECT_FALSE(parse_key(std::string(200, 'a')).has_value());
}

TEST(KeyFormat, RandomSecretsDiffer) {
  EXPECT_NE(random_key_secret(), random_key_secret());
}

TEST(KeyFormat, DisplayPrefixShowsPrefixAndFourCharacters) {
  const auto key = format_key("kf", "live", fixed_secret(0x42));
  EXPECT_EQ(display_prefix(key), key.substr(0, 12));
  EXPECT_TRUE(display_prefix(key).starts_with("kf_live_"));
}

TEST(KeyFormat, LabelsAreLowercaseAlphanumeric) {
  EXPECT_TRUE(is_valid_key_label("live"));
  EXPECT_TRUE(is_valid_key_label("kf2"));
  EXPECT_FALSE(is_valid_key_label(""));
  EXPECT_FALSE(is_valid_key_label("Live"));
  EXPECT_FALSE(is_valid_key_label("a_b"));
  EXPECT_FALSE(is_valid_key_label(std::string(17, 'a')));
}

}  // namespace
}  // namespace keyflow
