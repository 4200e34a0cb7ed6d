// DiskStore runs the ObjectStore contract, with group commit (the default) and without it (one
// transaction per write), so both commit paths meet the same contract.
#include "object_store_contract.h"
#include "storage/disk_store.h"

namespace pf::storage::test {
namespace {

std::unique_ptr<ObjectStore> open_disk_store(const std::filesystem::path& dir, bool group_commit) {
    DiskStoreOptions options;
    options.root = dir / "store";
    options.min_free_bytes = 0;  // the contract is not about free space
    options.group_commit = group_commit;
    auto store = DiskStore::open(options);
    if (!store) {
        ADD_FAILURE() << "DiskStore::open: " << store.error().message;
        return nullptr;
    }
    return std::move(*store);
}

INSTANTIATE_TEST_SUITE_P(DiskStore, ObjectStoreContract,
                         ::testing::Values(StoreFactory{"GroupCommit",
                                                        [](const std::filesystem::path& dir) {
                                                            return open_disk_store(dir, true);
                                                        }},
                                           StoreFactory{"OneTransactionPerWrite",
                                                        [](const std::filesystem::path& dir) {
                                                            return open_disk_store(dir, false);
                                                        }}),
                         StoreFactory::name_of);

}  // namespace
}  // namespace pf::storage::test
