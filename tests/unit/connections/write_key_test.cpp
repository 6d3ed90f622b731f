#include "engine/connections/write_key.hpp"

#include <set>
#include <string>

#include <gtest/gtest.h>

#include "engine/core/encoding.hpp"

namespace keyflow {
namespace {

TEST(WriteKey, LooksLikeTheSeedsExample) {
  const auto key = generate_write_key();
  EXPECT_EQ(key.size(), 32u);
  EXPECT_TRUE(is_base62(key)) << key;
  EXPECT_TRUE(is_well_formed_write_key(key)) << key;
}

TEST(WriteKey, EveryKeyIsNew) {
  std::set<std::string> seen;
  for (int i = 0; i < 1000; ++i)
    EXPECT_TRUE(seen.insert(generate_write_key()).second);
}

TEST(WriteKey, RandomPartUsesTheWholeAlphabet) {
  // 26,000 uniform draws over 62 characters: missing one has probability ~62·e^-424.
  std::set<char> chars;
  for (int i = 0; i < 1000; ++i) {
    const auto key = generate_write_key();
    chars.insert(key.begin(), key.begin() + kWriteKeyRandomChars);
  }
  EXPECT_EQ(chars.size(), 62u);
}

TEST(WriteKey, ChecksumIsTheLastSixCharacters) {
  const std::string random_part = "aC7B37Bug92OI2JSnl9eKrfGee";
  const auto key = complete_write_key(random_part);
  EXPECT_EQ(key.size(), 32u);
  EXPECT_TRUE(key.starts_with(random_part));
  EXPECT_TRUE(is_well_formed_write_key(key));
  // Deterministic: the same random part always gets the same checksum.
  EXPECT_EQ(complete_write_key(random_part), key);
}

TEST(WriteKey, AnyMistypedCharacterIsRejected) {
  const auto key = generate_write_key();
  for (std::size_t i = 0; i < key.size(); ++i) {
    auto typo = key;
    typo[i] = typo[i] == 'x' ? 'y' : 'x';
    EXPECT_FALSE(is_well_formed_write_key(typo)) << i;
  }
}

TEST(WriteKey, WrongLengthsAndAlphabetsAreRejected) {
  const auto key = generate_write_key();
  EXPECT_FALSE(is_well_formed_write_key(""));
  EXPECT_FALSE(is_well_formed_write_key(key.substr(0, 31)));
  EXPECT_FALSE(is_well_formed_write_key(key + "0"));
  // The seed's own example is 32 random characters without our checksum.
  EXPECT_FALSE(is_well_formed_write_key("aC7B37Bug92OI2JSnl9eKrfGeecZT5hA"));
  auto dashed = key;
  dashed[3] = '-';
  EXPECT_FALSE(is_well_formed_write_key(dashed));
  EXPECT_FALSE(is_well_formed_write_key(std::string(32, ' ')));
}

TEST(WriteKey, HintIsTheFirstFourCharacters) {
  EXPECT_EQ(write_key_hint("aC7B37Bug92OI2JSnl9eKrfGeecZT5hA"), "aC7B");
}

}  // namespace
}  // namespace keyflow
