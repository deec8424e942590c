// Pass updates (pass_updates.h): device registrations, the changed-since feed and the push queue.
// Registrations are not card data: they carry no audit entry (a device may register and
// unregister at will), but they take the ledger's write transaction like every write.
#include "ledger/pass_updates.h"

#include <nlohmann/json.hpp>

#include "ledger/internal/core.h"
#include "ledger/internal/pass_changes.h"

namespace lk::ledger {
using namespace internal;

Result<> internal::QueuePassChange(Core& core, std::string_view serial) {
  auto r = core.db->Execute(
      "INSERT INTO wallet_changes (serial, update_tag, queued_at) SELECT COALESCE(wallet_serial, serial), "
      "update_tag, $2 FROM cards WHERE serial = $1 AND channel = 'digital'",
      {std::string(serial), Seconds(core.clock.Now())});
  if (!r) return std::unexpected(r.error());
  return {};
}

Result<bool> PassUpdates::Register(std::string_view device_id, std::string_view push_token,
                                   std::string_view serial) {
  std::lock_guard lock(core_.mu);
  Transaction tx(*core_.db);
  if (auto r = tx.Begin(); !r) return std::unexpected(r.error());
  const std::string device(device_id), token(push_token), s(serial);
  auto card = core_.db->Query("SELECT 1 FROM cards WHERE serial = $1 AND channel = 'digital'", {s});
  if (!card) return std::unexpected(card.error());
  if (card->empty()) return Fail(Code::kNotFound, "no digital card with serial " + s);
  const int64_t now = Seconds(core_.clock.Now());
  if (auto r = core_.db->Execute(
          "INSERT INTO wallet_devices (device_id, push_token, updated_at) VALUES ($1, $2, $3) "
          "ON CONFLICT (device_id) DO UPDATE SET push_token = excluded.push_token, updated_at = "
          "excluded.updated_at",
          {device, token, now});
      !r)
    return std::unexpected(r.error());
  auto have = core_.db->Query(
      "SELECT count(*), sum(CASE WHEN device_id = $2 THEN 1 ELSE 0 END) FROM wallet_registrations WHERE "
      "serial = $1",
      {s, device});
  if (!have) return std::unexpected(have.error());
  const int64_t others = ToInt((*have)[0][0]), mine = ToInt((*have)[0][1]);
  if (mine == 0 && others >= kMaxDevicesPerPass)
    return Fail(Code::kResourceExhausted, "pass " + s + " is already registered on " +
                                              std::to_string(kMaxDevicesPerPass) +
                                              " devices; unregister one first");
  if (mine == 0) {
    if (auto r = core_.db->Execute(
            "INSERT INTO wallet_registrations (device_id, serial, registered_at) VALUES ($1, $2, $3)",
            {device, s, now});
        !r)
      return std::unexpected(r.error());
  }
  if (auto r = tx.Commit(); !r) return std::unexpected(r.error());
  return mine == 0;
}

Result<bool> PassUpdates::Unregister(std::string_view device_id, std::string_view serial) {
  std::lock_guard lock(core_.mu);
  Transaction tx(*core_.db);
  if (auto r = tx.Begin(); !r) return std::unexpected(r.error());
  const std::string device(device_id);
  auto n = core_.db->Execute("DELETE FROM wallet_registrations WHERE device_id = $1 AND serial = $2",
                             {device, std::string(serial)});
  if (!n) return std::unexpected(n.error());
  if (auto r = core_.db->Execute("DELETE FROM wallet_devices WHERE device_id = $1 AND NOT EXISTS (SELECT 1 "
                                 "FROM wallet_registrations r WHERE r.device_id = $1)",
                                 {device});
      !r)
    return std::unexpected(r.error());
  if (auto r = tx.Commit(); !r) return std::unexpected(r.error());
  return *n > 0;
}

Result<UpdatedPasses> PassUpdates::UpdatedSince(std::string_view device_id,
                                                std::optional<int64_t> since) const {
  auto lease = core_.Read();
  if (!lease) return std::unexpected(lease.error());
  UpdatedPasses out;
  // CROSS JOIN: from the device's registrations (primary key) to each card (primary key). A pass
  // is its wallet entry: the registered card and the cards of later card years that took it over
  // (cards_wallet_serial); it changed when any of them did.
  const int64_t after = since.value_or(-1);
  auto r = lease->db().ForEach(
      "SELECT c.serial, c.update_tag, (SELECT max(n.update_tag) FROM cards n WHERE n.wallet_serial = "
      "c.serial) "
      "FROM wallet_registrations r CROSS JOIN cards c WHERE r.device_id = $1 AND c.serial = r.serial ORDER "
      "BY "
      "c.serial",
      {std::string(device_id)}, [&](const Row& row) {
        const int64_t tag = std::max(ToInt(row[1]), row[2] ? ToInt(row[2]) : int64_t{0});
        if (tag <= after) return;
        out.serials.push_back(row[0].value_or(""));
        out.last_updated = std::max(out.last_updated, tag);
      });
  if (!r) return std::unexpected(r.error());
  return out;
}

Result<Time> PassUpdates::ChangedAt(int64_t update_tag) const {
  auto lease = core_.Read();
  if (!lease) return std::unexpected(lease.error());
  auto rows = lease->db().Query("SELECT at FROM audit_log WHERE seq = $1", {update_tag});
  if (!rows) return std::unexpected(rows.error());
  if (rows->empty()) return Fail(Code::kNotFound, "no change with tag " + std::to_string(update_tag));
  return Time(std::chrono::seconds(ToInt((*rows)[0][0])));
}

Result<int64_t> PassUpdates::RemovePushTokens(std::span<const std::string> tokens) {
  if (tokens.empty()) return 0;
  std::lock_guard lock(core_.mu);
  Transaction tx(*core_.db);
  if (auto r = tx.Begin(); !r) return std::unexpected(r.error());
  int64_t removed = 0;
  for (const std::string& token : tokens) {
    if (auto r = core_.db->Execute("DELETE FROM wallet_registrations WHERE device_id IN (SELECT device_id "
                                   "FROM wallet_devices WHERE push_token = $1)",
                                   {token});
        !r)
      return std::unexpected(r.error());
    auto n = core_.db->Execute("DELETE FROM wallet_devices WHERE push_token = $1", {token});
    if (!n) return std::unexpected(n.error());
    removed += *n;
  }
  if (auto r = tx.Commit(); !r) return std::unexpected(r.error());
  return removed;
}

Result<int64_t> PassUpdates::RegistrationCount() const {
  auto lease = core_.Read();
  if (!lease) return std::unexpected(lease.error());
  auto rows = lease->db().Query("SELECT count(*) FROM wallet_registrations");
  if (!rows) return std::unexpected(rows.error());
  return ToInt((*rows)[0][0]);
}

Result<int64_t> PassUpdates::QueueChanges(std::span<const std::string> serials) {
  std::lock_guard lock(core_.mu);
  Transaction tx(*core_.db);
  if (auto r = tx.Begin(); !r) return std::unexpected(r.error());
  for (const std::string& s : serials)
    if (auto r = QueuePassChange(core_, s); !r) return std::unexpected(r.error());
  if (auto r = tx.Commit(); !r) return std::unexpected(r.error());
  return static_cast<int64_t>(serials.size());
}

Result<int64_t> PassUpdates::ReplaceTokens(std::span<const std::pair<std::string, std::string>> serial_tokens,
                                           Time at) {
  std::lock_guard lock(core_.mu);
  Transaction tx(*core_.db);
  if (auto r = tx.Begin(); !r) return std::unexpected(r.error());
  auto seq = core_.NextSeq();
  if (!seq) return std::unexpected(seq.error());
  int64_t changed = 0;
  std::string serials;
  for (const auto& [serial, token] : serial_tokens) {
    auto n = core_.db->Execute(
        "UPDATE cards SET qr_token = $2, qr_token_at = $3, update_tag = $4 WHERE serial = $1 AND status = "
        "'active' AND channel = 'digital'",
        {serial, token, Seconds(at), *seq});
    if (!n) return std::unexpected(n.error());
    if (*n == 0) continue;
    ++changed;
    serials += (serials.empty() ? "" : ",") + serial;
    if (auto r = QueuePassChange(core_, serial); !r) return std::unexpected(r.error());
  }
  nlohmann::json detail = {{"refreshed", changed}, {"serials", serials}};
  if (auto f = core_.Finish(tx, *seq, "refresh tokens", detail.dump(), static_cast<uint64_t>(changed)); !f)
    return std::unexpected(f.error());
  return changed;
}

Result<int64_t> PassUpdates::PendingChanges() const {
  auto lease = core_.Read();
  if (!lease) return std::unexpected(lease.error());
  auto rows = lease->db().Query("SELECT count(*) FROM wallet_changes WHERE batch_id IS NULL");
  if (!rows) return std::unexpected(rows.error());
  return ToInt((*rows)[0][0]);
}

Result<std::optional<PushBatch>> PassUpdates::ClaimPushBatch(std::string_view holder,
                                                             std::chrono::seconds lease) {
  PushBatch batch;
  {
    std::lock_guard lock(core_.mu);
    Transaction tx(*core_.db);
    if (auto r = tx.Begin(); !r) return std::unexpected(r.error());
    const int64_t now = Seconds(core_.clock.Now()), until = now + lease.count();
    const std::string who(holder);
    auto open = core_.db->Query(
        "SELECT id, runs FROM wallet_push_batches WHERE finished_at IS NULL AND not_before <= $1 AND "
        "(holder = $2 OR lease_until <= $1) ORDER BY id LIMIT 1",
        {now, who});
    if (!open) return std::unexpected(open.error());
    if (!open->empty()) {
      batch.id = ToInt((*open)[0][0]);
      batch.runs = static_cast<int>(ToInt((*open)[0][1])) + 1;
      if (auto r = core_.db->Execute(
              "UPDATE wallet_push_batches SET holder = $2, lease_until = $3, runs = $4 WHERE id = $1",
              {batch.id, who, until, int64_t{batch.runs}});
          !r)
        return std::unexpected(r.error());
    } else {
      auto pending = core_.db->Query("SELECT count(*) FROM wallet_changes WHERE batch_id IS NULL");
      if (!pending) return std::unexpected(pending.error());
      if (ToInt((*pending)[0][0]) == 0) return std::optional<PushBatch>();
      if (auto r = core_.db->Execute("INSERT INTO wallet_push_batches (created_at, holder, lease_until, "
                                     "not_before, runs) VALUES ($1, "
                                     "$2, $3, $1, 1)",
                                     {now, who, until});
          !r)
        return std::unexpected(r.error());
      auto id = core_.db->Query("SELECT max(id) FROM wallet_push_batches");  // the writer lock is held
      if (!id) return std::unexpected(id.error());
      batch.id = ToInt((*id)[0][0]);
      batch.runs = 1;
      if (auto r =
              core_.db->Execute("UPDATE wallet_changes SET batch_id = $1 WHERE batch_id IS NULL", {batch.id});
          !r)
        return std::unexpected(r.error());
    }
    if (auto r = tx.Commit(); !r) return std::unexpected(r.error());
  }
  auto read = core_.Read();
  if (!read) return std::unexpected(read.error());
  Db& db = read->db();
  auto changes = db.Query("SELECT count(*) FROM wallet_changes WHERE batch_id = $1", {batch.id});
  if (!changes) return std::unexpected(changes.error());
  batch.changes = static_cast<size_t>(ToInt((*changes)[0][0]));
  // Devices of every changed pass, each once: a push only says "ask what changed".
  if (auto r = db.ForEach(
          "SELECT DISTINCT d.push_token FROM wallet_changes c CROSS JOIN wallet_registrations r CROSS JOIN "
          "wallet_devices d WHERE c.batch_id = $1 AND r.serial = c.serial AND d.device_id = r.device_id "
          "ORDER BY d.push_token",
          {batch.id}, [&](const Row& row) { batch.tokens.push_back(row[0].value_or("")); });
      !r)
    return std::unexpected(r.error());
  if (auto r =
          db.ForEach("SELECT push_token FROM wallet_push_deliveries WHERE batch_id = $1 ORDER BY 1",
                     {batch.id}, [&](const Row& row) { batch.delivered.push_back(row[0].value_or("")); });
      !r)
    return std::unexpected(r.error());
  return std::optional<PushBatch>(std::move(batch));
}

Result<> PassUpdates::RecordDelivered(int64_t batch, std::span<const std::string> tokens,
                                      std::string_view holder, std::chrono::seconds lease) {
  std::lock_guard lock(core_.mu);
  Transaction tx(*core_.db);
  if (auto r = tx.Begin(); !r) return r;
  constexpr size_t kPerStatement = 200;
  for (size_t i = 0; i < tokens.size(); i += kPerStatement) {
    const size_t n = std::min(kPerStatement, tokens.size() - i);
    std::string sql = "INSERT INTO wallet_push_deliveries (batch_id, push_token) VALUES ";
    std::vector<Value> params = {batch};
    for (size_t k = 0; k < n; ++k) {
      sql += (k ? ", ($1, $" : "($1, $") + std::to_string(k + 2) + ")";
      params.emplace_back(tokens[i + k]);
    }
    sql += " ON CONFLICT (batch_id, push_token) DO NOTHING";
    if (auto r = core_.db->Execute(sql, params); !r) return std::unexpected(r.error());
  }
  if (auto r =
          core_.db->Execute("UPDATE wallet_push_batches SET lease_until = $3 WHERE id = $1 AND holder = $2",
                            {batch, std::string(holder), Seconds(core_.clock.Now()) + lease.count()});
      !r)
    return std::unexpected(r.error());
  return tx.Commit();
}

Result<> PassUpdates::FinishPushBatch(int64_t batch, const PushBatchCounts& counts) {
  std::lock_guard lock(core_.mu);
  Transaction tx(*core_.db);
  if (auto r = tx.Begin(); !r) return r;
  std::vector<Value> params;  // (built one by one: g++ 12 misreads an all-integer initializer list)
  for (int64_t v :
       {batch, Seconds(core_.clock.Now()), counts.devices, counts.delivered, counts.gone, counts.failed})
    params.emplace_back(v);
  if (auto r = core_.db->Execute("UPDATE wallet_push_batches SET finished_at = $2, devices = $3, delivered = "
                                 "$4, gone = $5, failed = "
                                 "$6 WHERE id = $1",
                                 params);
      !r)
    return std::unexpected(r.error());
  for (const char* sql : {"DELETE FROM wallet_push_deliveries WHERE batch_id = $1",
                          "DELETE FROM wallet_changes WHERE batch_id = $1"})
    if (auto r = core_.db->Execute(sql, {batch}); !r) return std::unexpected(r.error());
  return tx.Commit();
}

Result<> PassUpdates::DeferPushBatch(int64_t batch, Time not_before) {
  std::lock_guard lock(core_.mu);
  Transaction tx(*core_.db);
  if (auto r = tx.Begin(); !r) return r;
  if (auto r = core_.db->Execute(
          "UPDATE wallet_push_batches SET not_before = $2, holder = '', lease_until = 0 WHERE id = $1",
          {batch, Seconds(not_before)});
      !r)
    return std::unexpected(r.error());
  return tx.Commit();
}

}  // namespace lk::ledger
