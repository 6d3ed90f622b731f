#include "outbox/outbox_relay_round.hpp"

#include <gtest/gtest.h>

#include "outbox/kafka_error.hpp"

namespace keyflow {
namespace {

OutboxRecord row(std::int64_t id, const std::string& key, const std::string& type = "api_key") {
  OutboxRecord record;
  record.id = id;
  record.aggregate_type = type;
  record.aggregate_id = key;
  return record;
}

std::error_code kafka(rd_kafka_resp_err_t err) {
  return make_kafka_error(err);
}

TEST(ClassifyFailure, MessagesKafkaCannotStoreArePermanent) {
  EXPECT_EQ(classify_failure(kafka(RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE)), FailureKind::permanent);
  EXPECT_EQ(classify_failure(kafka(RD_KAFKA_RESP_ERR_INVALID_RECORD)), FailureKind::permanent);
  EXPECT_EQ(classify_failure(kafka(RD_KAFKA_RESP_ERR_INVALID_MSG)), FailureKind::permanent);
  EXPECT_EQ(classify_failure(kafka(RD_KAFKA_RESP_ERR_RECORD_LIST_TOO_LARGE)),
            FailureKind::permanent);
}

TEST(ClassifyFailure, BrokerAndClientTroubleIsTransient) {
  for (const auto err :
       {RD_KAFKA_RESP_ERR__MSG_TIMED_OUT, RD_KAFKA_RESP_ERR__TRANSPORT,
        RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN, RD_KAFKA_RESP_ERR__PURGE_INFLIGHT,
        RD_KAFKA_RESP_ERR__PURGE_QUEUE, RD_KAFKA_RESP_ERR__FATAL, RD_KAFKA_RESP_ERR__QUEUE_FULL,
        RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION, RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS,
        RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED, RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART}) {
    EXPECT_EQ(classify_failure(kafka(err)), FailureKind::transient) << rd_kafka_err2name(err);
  }
  // Not a Kafka error at all.
  EXPECT_EQ(classify_failure(std::make_error_code(std::errc::timed_out)), FailureKind::transient);
}

TEST(SettleRound, MarksEveryAcknowledgedRowWhenNothingFailed) {
  const std::vector<OutboxRecord> records = {row(1, "a"), row(2, "b"), row(3, "a")};
  const auto settlement = settle_round(records, {2, 1, 3}, {});
  EXPECT_EQ(settlement.mark, (std::vector<std::int64_t>{2, 1, 3}));
  EXPECT_TRUE(settlement.unmarked.empty());
}

TEST(SettleRound, LeavesRowsThatOvertookAFailedRowOfTheirAggregateUnmarked) {
  const std::vector<OutboxRecord> records = {row(1, "a"), row(2, "b"), row(3, "a"),
                                             row(4, "c"), row(5, "a"), row(6, "b")};
  // Row 3 failed (a partition batch the broker refused), rows 5 and 6 made it in a later batch.
  const auto settlement =
      settle_round(records, {1, 2, 4, 5, 6}, {{3, kafka(RD_KAFKA_RESP_ERR_INVALID_RECORD)}});
  // Row 1 of key a went before the failure and stays published; row 5 overtook row 3.
  EXPECT_EQ(settlement.mark, (std::vector<std::int64_t>{1, 2, 4, 6}));
  EXPECT_EQ(settlement.unmarked, (std::vector<std::int64_t>{5}));
}

TEST(SettleRound, TellsAggregatesApartByTypeAsWellAsId) {
  const std::vector<OutboxRecord> records = {row(1, "x", "api_key"), row(2, "x", "connection")};
  const auto settlement =
      settle_round(records, {2}, {{1, kafka(RD_KAFKA_RESP_ERR__MSG_TIMED_OUT)}});
  EXPECT_EQ(settlement.mark, (std::vector<std::int64_t>{2}));
  EXPECT_TRUE(settlement.unmarked.empty());
}

}  // namespace
}  // namespace keyflow
