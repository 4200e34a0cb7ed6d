// Deferred unlinking of blobs that a commit released (an overwrite, a delete, a replaced or
// aborted part), so that open readers keep reading the version they opened.
//
// Epochs: every commit that releases blobs gets the next sequence number T. A reader takes a
// ticket holding the sequence number E current *before* it reads the index; its snapshot can then
// only contain blobs released at commits after E. A blob released at T is unlinked once no open
// reader has E < T. The released blobs are in the index's trash table (same transaction as the
// release), so a crash before the unlink leaks nothing: recovery unlinks them at the next open.
#pragma once

#include "storage/blob_files.h"

#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <utility>
#include <vector>

namespace pf::storage {

class BlobReclaimer : public std::enable_shared_from_this<BlobReclaimer> {
public:
    explicit BlobReclaimer(BlobLayout layout) : layout_(std::move(layout)) {}

    // Held by a reader for as long as it may open blobs. Move-only; releasing it may unlink blobs
    // (on the releasing thread).
    class Ticket {
    public:
        Ticket() = default;
        Ticket(std::shared_ptr<BlobReclaimer> owner, std::uint64_t epoch)
            : owner_(std::move(owner)), epoch_(epoch) {}
        Ticket(Ticket&& other) noexcept = default;
        Ticket& operator=(Ticket&& other) noexcept;
        Ticket(const Ticket&) = delete;
        Ticket& operator=(const Ticket&) = delete;
        ~Ticket() { reset(); }
        void reset();

    private:
        std::shared_ptr<BlobReclaimer> owner_;
        std::uint64_t epoch_ = 0;
    };

    Ticket enter();
    // After a commit that released `blobs` (their trash rows are committed).
    void committed(std::vector<std::string> blobs);
    // Blobs unlinked since the last call: the commit thread deletes their trash rows.
    std::vector<std::string> take_unlinked();
    // Released blobs still waiting for readers.
    std::size_t pending() const;

private:
    void leave(std::uint64_t epoch);
    // Unlinks every pending blob no open reader can see. Called with the lock held; drops it
    // while unlinking.
    void sweep(std::unique_lock<std::mutex>& lock);

    BlobLayout layout_;
    mutable std::mutex mutex_;
    std::uint64_t sequence_ = 0;
    std::multiset<std::uint64_t> readers_;
    std::deque<std::pair<std::uint64_t, std::string>> pending_;  // in sequence order
    std::vector<std::string> unlinked_;
};

}  // namespace pf::storage
