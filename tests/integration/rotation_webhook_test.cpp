// A rotated key's replacement reaches its owner: POSTed to rotation_webhook_url, signed with
// the secret the owner was given, retried with the same webhook-id, sealed to the owner's
// public key when it has one; at rest the plaintext exists only sealed, and only until it
// is delivered or the old key's grace ends. An undelivered rotation extends the grace once.
#include <set>
#include <thread>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/json.hpp>
#include <gtest/gtest.h>
#include <sodium.h>

#include "consumers/delivery_sender.hpp"
#include "consumers/rotation_delivery_queue.hpp"
#include "consumers/webhook_signature.hpp"
#include "engine/keys/key_lifecycle_service.hpp"
#include "tests/support/engine_fixture.hpp"
#include "tests/support/eventually.hpp"
#include "tests/support/webhook_receiver.hpp"

namespace keyflow {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;

class RotationWebhookTest : public ::testing::Test {
 protected:
  RotationWebhookTest() {
    project = f.make_project().id;
    io_thread = std::jthread([this] { io.run(); });
  }
  ~RotationWebhookTest() override {
    work.reset();
    io.stop();
  }

  static WebhookClient::Options client_options() {
    WebhookClient::Options o;
    o.timeout = 5s;
    o.destinations = DestinationPolicy(true, {});  // the receiver is on loopback
    return o;
  }
  static SenderOptions sender_options() {
    SenderOptions o;
    o.jitter = [] { return 0.0; };
    return o;
  }
  static RotateOptions with_grace(std::chrono::seconds grace) {
    RotateOptions o;
    o.grace_period = grace;
    return o;
  }

  CreatedKey make_key(std::optional<std::string> public_key = std::nullopt) {
    NewKey request;
    request.project_id = project;
    request.name = "rotating";
    request.scopes = {"READ"};
    request.rotation_webhook_url = receiver.url("/rotated");
    request.rotation_public_key = std::move(public_key);
    return f.keys.create(Actor::admin(), request);
  }
  // One sending round: claim, wait for the receiver, record.
  void deliver_once(std::size_t expect_requests) {
    ASSERT_GT(sender.dispatch_due(), 0u) << "nothing was due";
    ASSERT_TRUE(receiver.wait_for(expect_requests, 10s));
    for (int i = 0; i < 200 && sender.record_finished() == 0; ++i)
      std::this_thread::sleep_for(10ms);
  }
  std::string column(const std::string& sql) const { return f.db.text(sql); }

  test::EngineFixture f;
  std::string project;
  test::WebhookReceiver receiver;
  boost::asio::io_context io;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work =
      boost::asio::make_work_guard(io);
  WebhookClient client{io.get_executor(), client_options()};
  RotationDeliveryQueue queue{f.pool, f.master_key};
  DeliverySender sender{queue, client, f.clock, sender_options()};
  std::jthread io_thread;
};

TEST_F(RotationWebhookTest, TheNewKeyArrivesSignedAndIsErasedAtRestOnceDelivered) {
  const auto created = make_key();
  ASSERT_TRUE(created.rotation_webhook_secret);
  const auto rotation = f.keys.rotate(Actor::admin(), created.key.id, with_grace(3600s));
  ASSERT_TRUE(rotation.delivery_id);

  // Before delivery the plaintext is nowhere in the clear.
  for (const char* sql : {"SELECT payload::text FROM rotation_deliveries",
                          "SELECT encode(key_sealed, 'escape')"
                          " FROM rotation_deliveries",
                          "SELECT string_agg(payload::text, ' ') FROM outbox"}) {
    EXPECT_EQ(column(sql).find(rotation.plaintext), std::string::npos) << sql;
  }
  EXPECT_NE(column("SELECT key_sealed IS NOT NULL FROM rotation_deliveries"), "f");

  deliver_once(1);
  const auto request = receiver.requests().front();
  EXPECT_EQ(request.header("webhook-id"), *rotation.delivery_id);
  EXPECT_TRUE(verify(*created.rotation_webhook_secret, request.header("webhook-id"),
                     std::stoll(request.header("webhook-timestamp")), request.body,
                     request.header("webhook-signature")));
  const auto body = json::parse(request.body).as_object();
  EXPECT_EQ(body.at("event").as_string(), "api_key.rotated");
  EXPECT_EQ(body.at("resource").as_string(), "api_key");
  EXPECT_EQ(body.at("resourceId").as_string(), created.key.id);
  const auto& data = body.at("data").as_object();
  EXPECT_EQ(data.at("key").as_string(), rotation.plaintext);
  EXPECT_EQ(data.at("new_key_id").as_string(), rotation.new_key.id);
  EXPECT_EQ(data.at("key_prefix").as_string(), rotation.new_key.key_prefix);
  EXPECT_FALSE(data.at("grace_expires_at").is_null());
  EXPECT_EQ(f.verify(std::string(data.at("key").as_string())).code, VerifyCode::valid);

  EXPECT_EQ(column("SELECT status FROM rotation_deliveries"), "succeeded");
  EXPECT_EQ(column("SELECT key_sealed IS NULL AND sealed_key IS NULL FROM rotation_deliveries"),
            "t")
      << "the key stayed at rest after its delivery";
  EXPECT_EQ(column("SELECT count(*) FROM rotation_delivery_attempts"), "1");
}

TEST_F(RotationWebhookTest, TwoSendersShareABacklogAndDeliverEachRotationOnce) {
  // More rotations than one claim takes, all to one URL, for two senders at once: each
  // claim locks only what its caps let it take, so the two never send the same one.
  constexpr int kRotations = 150;
  std::set<std::string> expected;
  for (int i = 0; i < kRotations; ++i) {
    const auto created = make_key();
    expected.insert(*f.keys.rotate(Actor::admin(), created.key.id, with_grace(3600s)).delivery_id);
  }
  WebhookClient other_client{io.get_executor(), client_options()};
  RotationDeliveryQueue other_queue{f.pool, f.master_key};
  DeliverySender other{other_queue, other_client, f.clock, sender_options()};
  {
    std::jthread first([&](std::stop_token stop) { sender.run(stop); });
    std::jthread second([&](std::stop_token stop) { other.run(stop); });
    ASSERT_TRUE(receiver.wait_for(kRotations, 30s)) << receiver.count();
    ASSERT_TRUE(test::eventually(
        [&] {
          return column("SELECT count(*) FROM rotation_deliveries WHERE status = 'succeeded'") ==
                 std::to_string(kRotations);
        },
        10s));
  }
  std::multiset<std::string> ids;
  for (const auto& request : receiver.requests())
    ids.insert(request.header("webhook-id"));
  EXPECT_EQ(ids.size(), static_cast<std::size_t>(kRotations)) << "a rotation was sent twice";
  EXPECT_EQ(std::set<std::string>(ids.begin(), ids.end()), expected);
  EXPECT_EQ(column("SELECT count(*) FROM rotation_delivery_attempts"), std::to_string(kRotations));
}

TEST_F(RotationWebhookTest, AClaimNeverTakesWhatAnotherSenderLeasedAfterItLooked) {
  for (int i = 0; i < 3; ++i)
    f.keys.rotate(Actor::admin(), make_key().key.id, with_grace(3600s));
  RotationDeliveryQueue other{f.pool, f.master_key};
  const auto now = f.clock.now();
  const auto lease = now + 60s;
  std::size_t taken_by_other = 0;
  bool looked = false;
  // Between reading the due deliveries and locking the picked ones, the other sender leases
  // all of them and commits.
  const auto mine = queue.claim(now, lease, 10, {}, [&](const std::string&, std::optional<int>) {
    if (!looked) {
      looked = true;
      taken_by_other = other
                           .claim(now, lease, 10, {},
                                  [](const std::string&, std::optional<int>) { return true; })
                           .size();
    }
    return true;
  });
  EXPECT_EQ(taken_by_other, 3u);
  EXPECT_TRUE(mine.empty()) << "claimed deliveries another sender had leased";
}

TEST_F(RotationWebhookTest, AFailedPostIsRetriedWithTheSameWebhookId) {
  receiver.fail_next(1, 503);
  const auto created = make_key();
  f.keys.rotate(Actor::admin(), created.key.id, with_grace(3600s));
  deliver_once(1);
  EXPECT_EQ(column("SELECT status || ' ' || attempts FROM rotation_deliveries"), "pending 1");
  EXPECT_EQ(sender.dispatch_due(), 0u) << "retried before its time";
  f.clock.advance(10s);  // past the first retry delay (5 s, no jitter)
  deliver_once(2);
  const auto requests = receiver.requests();
  EXPECT_EQ(requests[0].header("webhook-id"), requests[1].header("webhook-id"));
  EXPECT_EQ(column("SELECT status || ' ' || attempts FROM rotation_deliveries"), "succeeded 2");
}

TEST_F(RotationWebhookTest, WithAPublicKeyOnlyItsOwnerCanOpenTheNewKey) {
  unsigned char public_key[crypto_box_PUBLICKEYBYTES];
  unsigned char secret_key[crypto_box_SECRETKEYBYTES];
  crypto_box_keypair(public_key, secret_key);
  const auto created = make_key(base64_encode(std::span(public_key, sizeof public_key)));
  const auto rotation = f.keys.rotate(Actor::admin(), created.key.id, with_grace(3600s));
  EXPECT_EQ(column("SELECT key_sealed IS NULL FROM rotation_deliveries"), "t")
      << "a key for a public key needs no copy under the master key";

  deliver_once(1);
  const auto data = json::parse(receiver.requests().front().body).at("data").as_object();
  EXPECT_FALSE(data.contains("key"));
  const auto sealed = base64_decode(data.at("sealed_key").as_string());
  ASSERT_TRUE(sealed);
  std::string opened(sealed->size() - crypto_box_SEALBYTES, '\0');
  ASSERT_EQ(crypto_box_seal_open(reinterpret_cast<unsigned char*>(opened.data()), sealed->data(),
                                 sealed->size(), public_key, secret_key),
            0);
  EXPECT_EQ(opened, rotation.plaintext);
}

TEST_F(RotationWebhookTest, AnUndeliveredRotationExtendsTheGraceOnceThenIsErased) {
  receiver.set_status(500);
  const auto created = make_key();
  f.keys.rotate(Actor::admin(), created.key.id, with_grace(2h));
  LifecycleOptions options;  // extension 24 h, an hour before the grace ends
  KeyLifecycleService lifecycle(f.pool, options);
  EXPECT_EQ(lifecycle.sweep(f.clock.now()), 0);

  f.clock.advance(90min);  // 30 minutes of grace left, nothing delivered
  EXPECT_EQ(lifecycle.sweep(f.clock.now()), 1);
  const auto old = f.keys.get(Actor::admin(), created.key.id);
  EXPECT_EQ(*old.grace_expires_at, f.clock.now() - 90min + 2h + 24h);
  EXPECT_EQ(
      f.count("SELECT count(*) FROM outbox WHERE event_type = 'api_key.rotation_undelivered'"), 1);
  f.clock.advance(23h);
  EXPECT_EQ(lifecycle.sweep(f.clock.now()), 0) << "extended only once";

  f.clock.advance(2h);  // past the extended grace
  EXPECT_EQ(lifecycle.sweep(f.clock.now()), 1);
  EXPECT_EQ(f.count("SELECT count(*) FROM outbox WHERE event_type = 'api_key.grace_ended'"), 1);
  EXPECT_EQ(column("SELECT status FROM rotation_deliveries"), "expired");
  EXPECT_EQ(column("SELECT key_sealed IS NULL FROM rotation_deliveries"), "t");
  EXPECT_EQ(lifecycle.sweep(f.clock.now()), 0);
}

TEST_F(RotationWebhookTest, ExpiryIsWarnedOfOnceAndReportedOnce) {
  NewKey request;
  request.project_id = project;
  request.name = "short-lived";
  request.expires_at = f.clock.now() + 30 * 24h;
  const auto created = f.keys.create(Actor::admin(), request);
  KeyLifecycleService lifecycle(f.pool, {.expiry_warning = 7 * 24h});
  const auto events = [&](const char* type) {
    return f.count(std::string("SELECT count(*) FROM outbox WHERE event_type = '") + type + "'");
  };
  EXPECT_EQ(lifecycle.sweep(f.clock.now()), 0) << "not inside the warning window yet";
  f.clock.advance(24 * 24h);
  EXPECT_EQ(lifecycle.sweep(f.clock.now()), 1);
  EXPECT_EQ(lifecycle.sweep(f.clock.now()), 0);
  EXPECT_EQ(events("api_key.expiring"), 1);

  // A new expires_at inside the window is warned of at once.
  KeyPatch later;
  later.expires_at = std::optional<TimePoint>(f.clock.now() + 5 * 24h);
  f.keys.update(Actor::admin(), created.key.id, later);
  EXPECT_EQ(lifecycle.sweep(f.clock.now()), 1);
  EXPECT_EQ(events("api_key.expiring"), 2);

  f.clock.advance(6 * 24h);
  EXPECT_EQ(lifecycle.sweep(f.clock.now()), 1);
  EXPECT_EQ(lifecycle.sweep(f.clock.now()), 0);
  EXPECT_EQ(events("api_key.expired"), 1);
  EXPECT_EQ(f.verify(created.plaintext).code, VerifyCode::expired);
}

}  // namespace
}  // namespace keyflow
