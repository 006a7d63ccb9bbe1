//! The AWS default credential chain (aws-config) with a shared-config profile: a static profile
//! in a temporary `AWS_SHARED_CREDENTIALS_FILE` signs a request the simulator accepts. Its own
//! test binary: it sets process environment variables that the chain reads.

#![allow(clippy::unwrap_used, reason = "tests: a panic is the failure report")]

use conduit_bedrock::{BedrockConfig, BedrockUpstream};
use conduit_core::{MessagesCall, Upstream};
use conduit_sim::bedrock::{TEST_ACCESS_KEY_ID, TEST_SECRET_ACCESS_KEY};
use conduit_sim::{Rule, Sim, SimConfig, Step};
use serde_json::json;

#[tokio::test]
async fn a_shared_profile_signs_through_the_default_chain() {
    let dir = std::env::temp_dir().join(format!("conduit-bedrock-profile-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let credentials = dir.join("credentials");
    std::fs::write(
        &credentials,
        format!("[sim]\naws_access_key_id = {TEST_ACCESS_KEY_ID}\naws_secret_access_key = {TEST_SECRET_ACCESS_KEY}\n"),
    )
    .unwrap();
    let config_file = dir.join("config");
    std::fs::write(&config_file, "[profile sim]\nregion = us-east-1\n").unwrap();
    // The chain reads the process environment; this binary has only this test.
    std::env::set_var("AWS_SHARED_CREDENTIALS_FILE", &credentials);
    std::env::set_var("AWS_CONFIG_FILE", &config_file);
    std::env::remove_var("AWS_ACCESS_KEY_ID");
    std::env::remove_var("AWS_SECRET_ACCESS_KEY");
    std::env::remove_var("AWS_PROFILE");
    std::env::set_var("AWS_EC2_METADATA_DISABLED", "true");

    let sim = Sim::start(SimConfig::default()).await.unwrap();
    sim.add_rule(Rule::reply(vec![Step::text("from a profile")]));
    let mut config = BedrockConfig::new("bedrock-profile", "us-east-1");
    config.endpoint = Some(sim.bedrock_endpoint("us-east-1"));
    config.profile = Some("sim".into());
    let bedrock = BedrockUpstream::new(config, &|_| None).await.unwrap();
    assert!(bedrock.status().detail["credentials"]
        .as_str()
        .unwrap()
        .contains("profile sim"));
    let body = json!({"model": "claude-sonnet-4-5", "max_tokens": 50, "stream": true,
                      "messages": [{"role": "user", "content": "hi"}]});
    let serde_json::Value::Object(body) = body else {
        unreachable!()
    };
    let call = MessagesCall {
        body,
        headers: vec![],
        model: bedrock.resolve("claude-sonnet-4-5").await.unwrap(),
        stream: true,
    };
    let reply = bedrock.messages().unwrap().send_messages(call).await;
    assert!(reply.is_ok(), "{:?}", reply.err());
    let log = sim.messages_log("bedrock");
    assert!(log[0].headers["authorization"].contains(&format!("Credential={TEST_ACCESS_KEY_ID}/")));
    std::fs::remove_dir_all(&dir).unwrap();
}
