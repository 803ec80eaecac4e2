//! docker's failures turned into what to do: an engine that does not run, a context that does
//! not exist, a registry that cannot be reached or refuses, a login docker keeps. (What ssh's own
//! failures mean is [`crate::ssh`]'s.)

use crate::error::UserError;
use crate::platform::Os;

use super::docker::DockerError;

/// Turns docker's error messages into what to do about them, with the advice for `os`.
pub fn explain_on(os: Os, context: &str, e: DockerError) -> anyhow::Error {
    explain_with(os, context, None, e)
}

/// [`explain_on`], knowing the profile's `docker.host` when it has one.
pub fn explain_with(
    os: Os,
    context: &str,
    declared_host: Option<&str>,
    e: DockerError,
) -> anyhow::Error {
    let s = e.stderr.to_ascii_lowercase();
    let hint = if let Some(h) = crate::ssh::ssh_advice(&e.stderr) {
        Some(h)
    } else if s.contains("context") && (s.contains("not found") || s.contains("does not exist")) {
        Some(match declared_host {
            Some(h) => format!(
                "the context does not exist yet: `devenv up` creates it from the profile's docker.host ({h})"
            ),
            None => format!(
                "create it: `docker context create {context} --docker host=ssh://USER@SERVER`, or set docker.host in the profile and devenv creates it"
            ),
        })
    } else if s.contains("http://docker.example.com") {
        // docker over SSH: the connection worked, the remote `docker system dial-stdio` did not
        let at = declared_host.unwrap_or(context);
        Some(format!(
            "the SSH login to {at} works, but docker there does not answer for that user: add the user to the docker group on the server (`sudo usermod -aG docker USER`, then log in again), check that docker is installed and running there (`ssh … docker version` shows which)"
        ))
    } else if s.contains("cannot connect to the docker daemon")
        || s.contains("error during connect")
        || s.contains("the system cannot find the file specified")
    {
        Some(match os {
            Os::Windows | Os::MacOs => format!(
                "start Docker Desktop (context `{context}`) and wait until it says it is running"
            ),
            Os::Linux => format!(
                "start the engine of context `{context}` (`sudo systemctl start docker`, or `dockerd`)"
            ),
        })
    } else if s.contains("permission denied") && s.contains("docker") && s.contains("sock") {
        Some("add yourself to the docker group (`sudo usermod -aG docker $USER`, then log in again), or run devenv with sudo".to_string())
    } else if s.contains("this node is not a swarm manager") {
        Some("run devenv against a manager node of the swarm (a worker cannot deploy)".to_string())
    } else {
        None
    };
    let mut u = UserError::new(format!("{}: {}", e.command, e.stderr.trim()));
    if let Some(h) = hint {
        u = u.hint(h);
    }
    u.into()
}

/// Where the docker CLI keeps its login for `registry`, read from its `config.json`
/// (`DOCKER_CONFIG`, else `~/.docker`): `auths` (written by `docker login`, also when a
/// credential store holds the secret) or a `credHelpers` entry. `None`: not logged in.
pub fn login_of(config_json: &str, registry: &str) -> Option<String> {
    let v: serde_json::Value = serde_json::from_str(config_json).ok()?;
    let keys: Vec<String> = if registry == "docker.io" {
        vec![
            "https://index.docker.io/v1/".into(),
            "index.docker.io".into(),
            "docker.io".into(),
        ]
    } else {
        vec![
            registry.to_string(),
            format!("https://{registry}"),
            format!("http://{registry}"),
        ]
    };
    if let Some(h) = keys
        .iter()
        .find_map(|k| v["credHelpers"][k.as_str()].as_str())
    {
        return Some(format!("credential helper docker-credential-{h}"));
    }
    let auths = v["auths"].as_object()?;
    keys.iter().find(|k| auths.contains_key(k.as_str()))?;
    Some(match v["credsStore"].as_str() {
        Some(store) => format!("docker login, credentials in docker-credential-{store}"),
        None => "docker login, credentials in config.json".to_string(),
    })
}

/// The registry an image reference is pulled from (`docker.io` for Docker Hub names).
pub fn registry_of(image: &str) -> String {
    match image.split_once('/') {
        Some((first, _)) if first.contains('.') || first.contains(':') || first == "localhost" => {
            first.to_string()
        }
        _ => "docker.io".to_string(),
    }
}

/// A failed pull as the user needs it: which registry could not be reached (or refused), for
/// which image, and what to do.
pub fn pull_error(image: &str, stderr: &str) -> anyhow::Error {
    pull_error_for(image, &[image], stderr)
}

/// [`pull_error`] naming every image of the same registry the deploy needs (`images`).
pub fn pull_error_for(image: &str, images: &[&str], stderr: &str) -> anyhow::Error {
    let registry = registry_of(image);
    let image_list = if images.len() > 1 {
        format!("images {}", images.join(", "))
    } else {
        format!("image {image}")
    };
    let s = stderr.to_ascii_lowercase();
    let (what, hint) = if s.contains("no such host")
        || s.contains("connection refused")
        || s.contains("i/o timeout")
        || s.contains("network is unreachable")
        || s.contains("dial tcp")
        || s.contains("tls handshake timeout")
    {
        (
            format!("the registry {registry} cannot be reached"),
            format!(
                "check this machine's network (a proxy? Docker Desktop: Settings → Resources → Proxies), use a registry mirror (`registry-mirrors` in the engine's daemon.json), or `docker pull {image}` once the network is back; nothing was changed"
            ),
        )
    } else if s.contains("unauthorized")
        || s.contains("denied")
        || s.contains("authentication required")
        || s.contains("no basic auth credentials")
    {
        (
            format!("the registry {registry} refused the pull"),
            format!("log in first: `docker login {registry}`"),
        )
    } else if s.contains("not found") || s.contains("manifest unknown") {
        (
            format!("{registry} has no image {image}"),
            "check the image name and tag in the stack".to_string(),
        )
    } else {
        (
            format!("pulling from {registry} failed"),
            format!("`docker pull {image}` shows the same error"),
        )
    };
    let (what, list) = if what.ends_with("cannot be reached") {
        (what, image_list)
    } else {
        (what, format!("image {image}"))
    };
    UserError::new(format!("{what} ({list}): {}", stderr.trim()))
        .hint(hint)
        .into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::swarm::docker::Docker;
    use crate::sys::FakeSys;

    #[test]
    fn daemon_down_gets_advice() {
        let s = FakeSys::new().program("docker", "/usr/bin/docker").respond_full(
            "/usr/bin/docker",
            1,
            "",
            "Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?",
        );
        let d = Docker::new(&s, "default").unwrap();
        let e = d.info().unwrap_err();
        let u = e.downcast_ref::<UserError>().unwrap();
        assert!(u.hint.as_ref().unwrap().contains("start"), "{u}");
    }

    /// What docker 28's CLI printed over `ssh://deploy@127.0.0.1:2299` (Debian's OpenSSH 9.2,
    /// this machine's sshd), each failure in turn.

    #[test]
    fn logins_as_docker_login_writes_them() {
        // what `docker login -u devuser 127.0.0.1:5055` wrote (docker 28, no credential store)
        let plain = "{\n\t\"auths\": {\n\t\t\"127.0.0.1:5055\": {\n\t\t\t\"auth\": \"ZGV2dXNlcjpkZXZwYXNz\"\n\t\t}\n\t}\n}";
        assert_eq!(
            login_of(plain, "127.0.0.1:5055").as_deref(),
            Some("docker login, credentials in config.json")
        );
        assert_eq!(login_of(plain, "ccr.ccs.tencentyun.com"), None);
        // Docker Desktop: a credential store, auths keeps an empty entry; Docker Hub's key
        let desktop = r#"{"auths": {"https://index.docker.io/v1/": {}}, "credsStore": "desktop"}"#;
        assert_eq!(
            login_of(desktop, "docker.io").as_deref(),
            Some("docker login, credentials in docker-credential-desktop")
        );
        let helper = r#"{"credHelpers": {"123.dkr.ecr.eu-west-1.amazonaws.com": "ecr-login"}}"#;
        assert_eq!(
            login_of(helper, "123.dkr.ecr.eu-west-1.amazonaws.com").as_deref(),
            Some("credential helper docker-credential-ecr-login")
        );
        assert_eq!(login_of("{}", "docker.io"), None);
        assert_eq!(login_of("not json", "docker.io"), None);
        // the daemon's answer to a pull without a login (docker-registry with htpasswd)
        let e = pull_error_for(
            "127.0.0.1:5055/shop/web:2",
            &["127.0.0.1:5055/shop/web:2"],
            "Error response from daemon: Head \"http://127.0.0.1:5055/v2/shop/web/manifests/2\": no basic auth credentials",
        );
        let u = e.downcast_ref::<UserError>().unwrap();
        assert!(u.message.contains("refused the pull"), "{u}");
        assert!(
            u.hint
                .as_deref()
                .unwrap()
                .contains("docker login 127.0.0.1:5055"),
            "{u}"
        );
    }
}
