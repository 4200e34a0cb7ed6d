// snsload: the load client of bench/sns.sh. Publishes through the SNS API of a running
// `photoflux serve` and receives the deliveries itself, so it measures the whole path: Publish
// (SigV4, validation, fan-out, the deliveries persisted), the dispatcher, the signed HTTP POST,
// and the receiver's 200.
//
//   snsload --endpoint URL --subscribers N --messages M [--publishers P] [--server-pid PID]
//
// It listens on 0.0.0.0:<free port> and subscribes N endpoints http://127.0.0.<2+i>:<port>/s/<i>:
// distinct hosts, because serve limits the deliveries in flight per endpoint origin (one slow
// receiver must not hold the others up), and N subscribers are N receivers in real life. Each
// SubscriptionConfirmation is confirmed by GETting its SubscribeURL. Then P threads publish M
// messages in all, back to back, and the tool waits for N x M notifications.
//
// Prints one JSON object: publish_per_s (Publish calls answered per second), delivered_per_s
// (notifications received ÷ time from the first Publish to the last delivery), latency p50/p99/max
// in ms (from sending a Publish to receiving one of its notifications, over all of them), errors,
// and with --server-pid the server's CPU seconds meanwhile. Credentials: AWS_ACCESS_KEY_ID and
// AWS_SECRET_ACCESS_KEY; region AWS_REGION (default us-east-1).
#include "aws/sigv4.h"
#include "aws/uri_encoding.h"
#include "crypto/digest.h"
#include "crypto/encoding.h"
#include "http/client.h"
#include "http/server.h"

#include <nlohmann/json.hpp>

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <map>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace {

using SteadyClock = std::chrono::steady_clock;

std::string env_or(const char* name, const char* fallback) {
    const char* value = std::getenv(name);
    return value != nullptr && *value != '\0' ? value : fallback;
}

struct Options {
    std::string endpoint;
    int subscribers = 1;
    int messages = 1000;
    int publishers = 4;
    long server_pid = 0;
};

// CPU seconds (user + system) of a process, from /proc/PID/stat.
double process_cpu_seconds(long pid) {
    std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
    std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
    auto close = text.rfind(')');
    if (close == std::string::npos) return 0;
    std::istringstream fields(text.substr(close + 2));
    std::string field;
    unsigned long utime = 0;
    unsigned long stime = 0;
    for (int i = 3; fields >> field; ++i) {
        if (i == 14) utime = std::stoul(field);
        if (i == 15) {
            stime = std::stoul(field);
            break;
        }
    }
    return static_cast<double>(utime + stime) / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

class SnsClient {
public:
    explicit SnsClient(std::string endpoint) : endpoint_(std::move(endpoint)) {
        auto policy = pf::http::AddressPolicy::with_allowed({"127.0.0.0/8"});
        pf::http::ClientOptions options;
        options.address_policy = *policy;
        options.max_response_bytes = 1 << 20;
        client_ = std::make_unique<pf::http::HttpClient>(options);
        auto scheme_end = endpoint_.find("://");
        host_ = endpoint_.substr(scheme_end + 3);
        credentials_.access_key_id = env_or("AWS_ACCESS_KEY_ID", "bench");
        credentials_.secret_access_key = env_or("AWS_SECRET_ACCESS_KEY", "bench");
        region_ = env_or("AWS_REGION", "us-east-1");
    }

    // One signed Query API call; returns the response body or throws.
    std::string call(const std::vector<std::pair<std::string, std::string>>& params) const {
        std::string body = "Version=2010-03-31";
        for (const auto& [name, value] : params) {
            body += "&" + pf::aws::form_encode(name) + "=" + pf::aws::form_encode(value);
        }
        pf::aws::SignRequest sign;
        sign.method = "POST";
        sign.path = "/";
        sign.headers = {{"host", host_},
                        {"content-type", "application/x-www-form-urlencoded; charset=utf-8"}};
        sign.payload_hash = pf::crypto::sha256_hex(body);
        sign.region = region_;
        sign.service = "sns";
        sign.now = std::chrono::system_clock::now();
        pf::http::ClientRequest request;
        request.method = "POST";
        request.url = endpoint_ + "/";
        request.headers = {{"Content-Type", "application/x-www-form-urlencoded; charset=utf-8"}};
        for (const auto& header : pf::aws::sign_request(sign, credentials_)) {
            request.headers.push_back(header);
        }
        request.body = body;
        auto response = client_->send(request);
        if (!response) throw std::runtime_error(response.error().message);
        if (response->status != 200) {
            throw std::runtime_error("HTTP " + std::to_string(response->status) + ": " +
                                     response->body);
        }
        return response->body;
    }

    std::string get(const std::string& url) const {
        pf::http::ClientRequest request;
        request.method = "GET";
        request.url = url;
        auto response = client_->send(request);
        if (!response) throw std::runtime_error(response.error().message);
        return response->body;
    }

private:
    std::string endpoint_;
    std::string host_;
    std::string region_;
    pf::aws::SigningCredentials credentials_;
    std::unique_ptr<pf::http::HttpClient> client_;
};

// The text of the first <name>...</name> in an XML answer.
std::string xml_value(const std::string& xml, const std::string& name) {
    auto open = xml.find("<" + name + ">");
    auto close = xml.find("</" + name + ">");
    if (open == std::string::npos || close == std::string::npos) return {};
    open += name.size() + 2;
    return xml.substr(open, close - open);
}

std::string xml_unescape(std::string text) {
    for (auto [from, to] : {std::pair<const char*, const char*>{"&amp;", "&"}, {"&lt;", "<"},
                            {"&gt;", ">"}, {"&quot;", "\""}, {"&apos;", "'"}}) {
        for (auto at = text.find(from); at != std::string::npos; at = text.find(from, at + 1)) {
            text.replace(at, std::string_view(from).size(), to);
        }
    }
    return text;
}

double percentile(std::vector<double> values, double p) {
    if (values.empty()) return 0;
    std::sort(values.begin(), values.end());
    auto index = static_cast<std::size_t>(p * static_cast<double>(values.size() - 1) + 0.5);
    return values[std::min(index, values.size() - 1)];
}

}  // namespace

int main(int argc, char** argv) {
    Options options;
    for (int i = 1; i + 1 < argc; i += 2) {
        std::string name = argv[i];
        std::string value = argv[i + 1];
        if (name == "--endpoint") options.endpoint = value;
        else if (name == "--subscribers") options.subscribers = std::stoi(value);
        else if (name == "--messages") options.messages = std::stoi(value);
        else if (name == "--publishers") options.publishers = std::stoi(value);
        else if (name == "--server-pid") options.server_pid = std::stol(value);
        else {
            std::cerr << "snsload: unknown option " << name << "\n";
            return 2;
        }
    }
    if (options.endpoint.empty() || options.subscribers < 1 || options.subscribers > 250 ||
        options.messages < 1 || options.publishers < 1) {
        std::cerr << "usage: snsload --endpoint URL --subscribers N(1-250) --messages M "
                     "[--publishers P] [--server-pid PID]\n";
        return 2;
    }

    std::mutex mutex;
    std::vector<std::string> confirm_urls;
    std::map<std::string, std::vector<SteadyClock::time_point>> arrivals;  // MessageId -> times
    std::atomic<long> received{0};
    auto receiver = pf::http::Server::listen(
        "0.0.0.0", 0, pf::http::ServerLimits{},
        [&](const pf::http::Request&, pf::http::RequestBody& body, pf::http::Response& response) {
            auto now = SteadyClock::now();
            std::string text;
            char buffer[16384];
            for (;;) {
                auto n = body.read(std::span<char>(buffer, sizeof buffer));
                if (!n || *n == 0) break;
                text.append(buffer, *n);
            }
            auto json = nlohmann::json::parse(text, nullptr, false);
            if (json.is_object()) {
                std::lock_guard lock(mutex);
                if (json.value("Type", "") == "SubscriptionConfirmation") {
                    confirm_urls.push_back(json.value("SubscribeURL", ""));
                } else if (json.value("Type", "") == "Notification") {
                    arrivals[json.value("MessageId", "")].push_back(now);
                    ++received;
                }
            }
            (void)response.start(200, {}, 0);
        });
    if (!receiver) {
        std::cerr << "snsload: cannot listen: " << receiver.error().message << "\n";
        return 1;
    }
    std::thread receiver_thread([&] { (*receiver)->run(); });
    int port = (*receiver)->port();

    int status = 0;
    try {
        SnsClient sns(options.endpoint);
        std::string topic_name = "snsload-" + std::to_string(::getpid()) + "-" +
                                 std::to_string(options.subscribers);
        std::string topic = xml_value(sns.call({{"Action", "CreateTopic"}, {"Name", topic_name}}),
                                      "TopicArn");
        for (int i = 0; i < options.subscribers; ++i) {
            std::string endpoint = "http://127.0.0." + std::to_string(2 + i) + ":" +
                                   std::to_string(port) + "/s/" + std::to_string(i);
            sns.call({{"Action", "Subscribe"}, {"TopicArn", topic}, {"Protocol", "http"},
                      {"Endpoint", endpoint}});
        }
        auto deadline = SteadyClock::now() + std::chrono::seconds(60);
        int confirmed = 0;
        while (confirmed < options.subscribers) {
            std::vector<std::string> urls;
            {
                std::lock_guard lock(mutex);
                urls.swap(confirm_urls);
            }
            for (const auto& url : urls) {
                sns.get(url);
                ++confirmed;
            }
            if (SteadyClock::now() > deadline) throw std::runtime_error("confirmations missing");
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
        }

        std::map<std::string, SteadyClock::time_point> sent;  // MessageId -> Publish sent
        std::atomic<int> next{0};
        std::atomic<long> errors{0};
        double cpu_before = options.server_pid ? process_cpu_seconds(options.server_pid) : 0;
        auto start = SteadyClock::now();
        std::vector<std::thread> publishers;
        for (int p = 0; p < options.publishers; ++p) {
            publishers.emplace_back([&] {
                for (int n = next++; n < options.messages; n = next++) {
                    auto at = SteadyClock::now();
                    try {
                        auto answer = sns.call({{"Action", "Publish"}, {"TopicArn", topic},
                                                {"Message", "photo " + std::to_string(n) + " done"},
                                                {"Subject", "photo.processed"}});
                        std::lock_guard lock(mutex);
                        sent[xml_unescape(xml_value(answer, "MessageId"))] = at;
                    } catch (const std::exception&) {
                        ++errors;
                    }
                }
            });
        }
        for (auto& t : publishers) t.join();
        auto published = SteadyClock::now();
        long expected = static_cast<long>(options.messages - errors) * options.subscribers;
        auto wait_until = SteadyClock::now() + std::chrono::seconds(300);
        while (received < expected && SteadyClock::now() < wait_until) {
            std::this_thread::sleep_for(std::chrono::milliseconds(2));
        }
        double cpu_after = options.server_pid ? process_cpu_seconds(options.server_pid) : 0;

        std::vector<double> latencies;
        SteadyClock::time_point last = start;
        {
            std::lock_guard lock(mutex);
            for (const auto& [id, times] : arrivals) {
                auto it = sent.find(id);
                for (auto t : times) {
                    last = std::max(last, t);
                    if (it != sent.end()) {
                        latencies.push_back(
                            std::chrono::duration<double, std::milli>(t - it->second).count());
                    }
                }
            }
        }
        double publish_seconds = std::chrono::duration<double>(published - start).count();
        double total_seconds = std::chrono::duration<double>(last - start).count();
        nlohmann::json out = {
            {"subscribers", options.subscribers},
            {"messages", options.messages},
            {"publishers", options.publishers},
            {"publish_errors", errors.load()},
            {"delivered", received.load()},
            {"expected", expected},
            {"publish_per_s", options.messages / publish_seconds},
            {"delivered_per_s", static_cast<double>(received) / total_seconds},
            {"p50_ms", percentile(latencies, 0.50)},
            {"p99_ms", percentile(latencies, 0.99)},
            {"max_ms", percentile(latencies, 1.0)},
        };
        if (options.server_pid) out["server_cpu_s"] = cpu_after - cpu_before;
        std::cout << out.dump() << std::endl;
        if (received < expected) status = 1;
    } catch (const std::exception& e) {
        std::cerr << "snsload: " << e.what() << "\n";
        status = 1;
    }
    (*receiver)->stop();
    receiver_thread.join();
    return status;
}
