use super::*;

fn check(text: &str) -> Result<FileConfig, String> {
    parse(Path::new("/etc/conduit.toml"), text).map_err(|e| e.0)
}

const ISSUE_EXAMPLE: &str = r#"
[[upstreams]]
name = "bedrock-us"
kind = "bedrock"          # kiro | bedrock | anthropic
region = "us-east-1"

[[upstreams]]
name = "kiro"
kind = "kiro"             # the account pool personal mode uses today

[[routes]]
models = ["claude-*"]     # glob on the client's model name
upstreams = ["bedrock-us", "kiro"]   # in order of preference
"#;

#[test]
fn the_issue_example_works_as_written() {
    let c = check(ISSUE_EXAMPLE).unwrap();
    assert_eq!(
        c.upstreams,
        [
            UpstreamConfig::Bedrock(BedrockFile {
                name: "bedrock-us".into(),
                region: "us-east-1".into(),
                ..Default::default()
            }),
            UpstreamConfig::Kiro {
                name: "kiro".into()
            },
        ]
    );
    assert_eq!(
        c.routes,
        [RouteConfig {
            models: vec!["claude-*".into()],
            upstreams: vec!["bedrock-us".into(), "kiro".into()],
        }]
    );
    assert_eq!(c.router, RouterConfig::default());
}

#[test]
fn every_key_of_every_kind() {
    let c = check(
        r#"
[[upstreams]]
name = "b"
kind = "bedrock"
region = "eu-west-1"
endpoint = "http://127.0.0.1:1/region/eu-west-1"
profile = "work"
signing_service = "bedrock"
region_prefix = "eu"
api_key_env = "BEDROCK_KEY"
models = { "claude-opus-4-7" = "arn:aws:bedrock:eu-west-1:1:application-inference-profile/x" }

[[upstreams]]
name = "a"
kind = "anthropic"
base_url = "http://127.0.0.1:1/anthropic"
api_key_env = "MY_KEY"
workspace_id = "wrkspc_1"
aws = { region = "us-west-2", profile = "platform" }

[router]
cooldown_seconds = 2
credentials_cooldown_seconds = 9
"#,
    )
    .unwrap();
    let UpstreamConfig::Bedrock(b) = &c.upstreams[0] else {
        panic!()
    };
    assert_eq!(b.region_prefix.as_deref(), Some("eu"));
    assert_eq!(b.models.len(), 1);
    let UpstreamConfig::Anthropic(a) = &c.upstreams[1] else {
        panic!()
    };
    let aws = a.aws.as_ref().unwrap();
    assert_eq!(
        (aws.region.as_str(), aws.profile.as_deref()),
        ("us-west-2", Some("platform"))
    );
    assert_eq!(a.api_key_env.as_deref(), Some("MY_KEY"));
    assert_eq!(c.router.cooldown, Duration::from_secs(2));
    assert_eq!(c.router.credentials_cooldown, Duration::from_secs(9));
}

/// Each bad file, and what its error must say (file, line, key).
#[test]
fn errors_name_the_file_the_line_and_the_key() {
    let cases: &[(&str, &[&str])] = &[
        (
            "[[upstreams]]\nname = \"b\"\nkind = \"bedrock\"\nregoin = \"us-east-1\"\n",
            &["/etc/conduit.toml", "line 4", "regoin"],
        ),
        (
            "[[upstreams]]\nname = \"b\"\nkind = \"vertex\"\n",
            &["line 3", "vertex", "kiro"],
        ),
        (
            "[[upstreams]]\nname = \"b\"\nkind = \"bedrock\"\n",
            &["line 2", "region"],
        ),
        (
            "[[upstreams]]\nname = \"k\"\nkind = \"kiro\"\n[[upstreams]]\nname = \"k\"\nkind = \"bedrock\"\nregion = \"x\"\n",
            &["line 5", "used twice"],
        ),
        (
            "[[upstreams]]\nname = \"k\"\nkind = \"kiro\"\n[[upstreams]]\nname = \"k2\"\nkind = \"kiro\"\n",
            &["line 6", "second `kind = \"kiro\"`"],
        ),
        (
            "[[upstreams]]\nname = \"k\"\nkind = \"kiro\"\n[[routes]]\nmodels = [\"*\"]\nupstreams = [\"k\", \"bedrock\"]\n",
            &["line 6", "`bedrock` is not defined", "defined: k"],
        ),
        (
            "[[upstreams]]\nname = \"k\"\nkind = \"kiro\"\nregion = \"us-east-1\"\n",
            &["line 4", "`region` does not apply", "kiro"],
        ),
        (
            "[[upstreams]]\nname = \"k\"\nkind = \"kiro\"\n[router]\ncooldown = 3\n",
            &["line 5", "cooldown"],
        ),
        ("", &["no [[upstreams]]"]),
        ("[[upstreams]\n", &["line 1"]),
        (
            "[[upstreams]]\nname = \"a\"\nkind = \"anthropic\"\napi_key = \"x\"\napi_key_env = \"Y\"\n",
            &["both"],
        ),
    ];
    for (text, wants) in cases {
        let e = check(text).unwrap_err();
        for want in *wants {
            assert!(e.contains(want), "{text:?}: `{e}` lacks `{want}`");
        }
    }
}
