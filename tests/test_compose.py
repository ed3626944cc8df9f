"""The scale-out shape: ``docker-compose.yml``, ``Dockerfile`` and ``grafana/prometheus.yml``.

No Docker engine runs in CI, so the file is checked the way a reviewer would: against the
official Compose Specification schema (vendored by the ``check-jsonschema`` package, since no
network is available at test time), then for the facts that make the stack start in order and
run safely: health checks, migrations first, pinned images, a required secret, one image, and
settings that a Vigil process actually reads.
"""

from __future__ import annotations

import copy
import json
import re
import secrets
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from core.settings import known_env_names, load_settings

ROOT = Path(__file__).resolve().parents[1]
COMPOSE_FILE = ROOT / "docker-compose.yml"
VIGIL_ROLES = ("migrate", "api", "worker", "lake-sink")
LONG_RUNNING_ROLES = ("api", "worker", "lake-sink")
INFRASTRUCTURE = ("postgres", "nats", "minio")
ONE_SHOTS = {"createbucket", "migrate"}
_VARIABLE = re.compile(r"\$\{(?P<name>\w+)(?:(?P<op>:-|:\?|-|\?)(?P<arg>[^}]*))?\}")


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    # safe_load resolves the anchors and "<<" merge keys, as Compose does.
    document = yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))
    assert isinstance(document, dict)
    return document


@pytest.fixture(scope="module")
def compose_schema() -> dict[str, Any]:
    pytest.importorskip(
        "check_jsonschema", reason="the Compose schema ships in check-jsonschema (dev extra)"
    )
    vendored = resources.files("check_jsonschema.builtin_schemas.vendor") / "compose-spec.json"
    schema = json.loads(vendored.read_text(encoding="utf-8"))
    assert schema["title"] == "Compose Specification"
    return dict(schema)


#: The variables compose refuses to start without.
REQUIRED_SECRETS = {"VIGIL_AUTH__SECRET_KEY": "x" * 48, "VIGIL_METRICS__SCRAPE_TOKEN": "t" * 32}


def interpolate(value: str, environ: dict[str, str]) -> str:
    """Compose's variable substitution: ``${A}``, ``${A:-default}``, ``${A:?error}``, ``$$``."""

    def substitute(match: re.Match[str]) -> str:
        name, op, arg = match["name"], match["op"], match["arg"]
        current = environ.get(name)
        if op in (":-", ":?") and not current:
            current = None
        if current is not None:
            return current
        if op in (":?", "?"):
            raise KeyError(f"{name}: {arg}")
        return arg or ""

    return _VARIABLE.sub(substitute, value).replace("$$", "$")


def effective_environment(
    service: dict[str, Any], environ: dict[str, str] | None = None
) -> dict[str, str]:
    environ = REQUIRED_SECRETS if environ is None else environ
    raw = service.get("environment", {})
    assert isinstance(raw, dict), "environment as a mapping keeps the shared anchor mergeable"
    return {key: interpolate(str(value), environ) for key, value in raw.items()}


# The schema


def test_file_follows_the_compose_specification(
    compose: dict[str, Any], compose_schema: dict[str, Any]
) -> None:
    validator_class = jsonschema.validators.validator_for(compose_schema)
    validator_class.check_schema(compose_schema)
    errors = sorted(
        validator_class(compose_schema).iter_errors(compose), key=lambda error: error.json_path
    )

    assert not errors, "\n".join(f"{error.json_path}: {error.message}" for error in errors)


@pytest.mark.parametrize(
    "break_it",
    [
        pytest.param(lambda doc: doc["services"]["api"].update(healthchek={}), id="typo-key"),
        pytest.param(
            lambda doc: doc["services"]["api"]["depends_on"]["migrate"].update(
                condition="service_done"
            ),
            id="unknown-condition",
        ),
        pytest.param(lambda doc: doc.update(servics={}), id="typo-top-level"),
    ],
)
def test_the_schema_catches_mistakes(
    compose: dict[str, Any], compose_schema: dict[str, Any], break_it: Any
) -> None:
    broken = copy.deepcopy(compose)
    break_it(broken)

    assert not jsonschema.validators.validator_for(compose_schema)(compose_schema).is_valid(broken)


def test_no_obsolete_version_key(compose: dict[str, Any]) -> None:
    assert "version" not in compose


# Start order and health


def test_every_long_running_service_has_a_healthcheck(compose: dict[str, Any]) -> None:
    services = compose["services"]
    one_shots = {name for name, service in services.items() if service.get("restart") == "no"}

    assert one_shots == ONE_SHOTS
    for name, service in services.items():
        if name not in one_shots:
            test = service.get("healthcheck", {}).get("test")
            assert test, f"{name} has no healthcheck"
            assert test[0] in ("CMD", "CMD-SHELL"), f"{name}: {test[0]} is not a check"


@pytest.mark.parametrize("role", LONG_RUNNING_ROLES)
def test_roles_wait_for_migrations_the_bucket_and_healthy_stores(
    compose: dict[str, Any], role: str
) -> None:
    depends_on = compose["services"][role]["depends_on"]

    assert depends_on["migrate"]["condition"] == "service_completed_successfully"
    assert depends_on["createbucket"]["condition"] == "service_completed_successfully"
    for store in INFRASTRUCTURE:
        assert depends_on[store]["condition"] == "service_healthy"


def test_migrations_wait_for_a_healthy_database(compose: dict[str, Any]) -> None:
    assert compose["services"]["migrate"]["command"] == ["db", "upgrade"]
    assert compose["services"]["migrate"]["depends_on"]["postgres"]["condition"] == (
        "service_healthy"
    )


def test_healthchecks_probe_the_ports_the_roles_serve(compose: dict[str, Any]) -> None:
    api, worker = compose["services"]["api"], compose["services"]["worker"]
    worker_port = effective_environment(worker)["VIGIL_WORKER__HEALTH_PORT"]

    assert "127.0.0.1:8000/healthz" in api["healthcheck"]["test"][-1]
    assert "8000:8000" in api["ports"]
    assert f"127.0.0.1:{worker_port}/healthz" in worker["healthcheck"]["test"][-1]


def test_nats_runs_jetstream_on_its_volume_with_monitoring(compose: dict[str, Any]) -> None:
    nats = compose["services"]["nats"]
    command = nats["command"]

    assert "-js" in command
    assert command[command.index("-sd") + 1] == "/data"
    assert command[command.index("-m") + 1] == "8222"
    assert any(volume.endswith(":/data") for volume in nats["volumes"])
    assert "8222/healthz" in nats["healthcheck"]["test"][-1]


# Images


def test_images_are_pinned(compose: dict[str, Any]) -> None:
    for name, service in compose["services"].items():
        image = interpolate(service["image"], {})
        repository, _, tag = image.rpartition(":")
        assert repository, f"{name}: {image} has no tag"
        assert "/" not in tag, f"{name}: {image} has no tag"
        assert tag != "latest", f"{name}: {image} uses the latest tag"


def test_one_image_runs_every_vigil_role(compose: dict[str, Any]) -> None:
    services = compose["services"]
    images = {services[role]["image"] for role in VIGIL_ROLES}

    assert len(images) == 1
    for role in VIGIL_ROLES:
        assert services[role]["build"]["context"] == "."
    assert services["api"]["command"] == ["api"]
    assert services["worker"]["command"] == ["worker", "--only", "media,moderation"]
    assert services["worker"]["deploy"]["replicas"] == 2
    # The lake has one writer, whose local state survives restarts.
    assert services["lake-sink"]["command"] == ["worker", "--only", "lake"]
    assert services["lake-sink"]["deploy"]["replicas"] == 1
    state = effective_environment(services["lake-sink"])["VIGIL_EVENTS__STATE_DIR"]
    assert any(v.endswith(":" + state.rsplit("/", 1)[0]) for v in services["lake-sink"]["volumes"])


# Settings


def test_the_secret_key_is_required_not_defaulted(compose: dict[str, Any]) -> None:
    for role in VIGIL_ROLES:
        raw = compose["services"][role]["environment"]["VIGIL_AUTH__SECRET_KEY"]
        assert re.fullmatch(r"\$\{VIGIL_AUTH__SECRET_KEY:\?[^}]+\}", raw), raw
        with pytest.raises(KeyError, match="VIGIL_AUTH__SECRET_KEY"):
            effective_environment(compose["services"][role], environ={})


@pytest.mark.parametrize("role", VIGIL_ROLES)
def test_every_variable_is_a_setting_vigil_reads(compose: dict[str, Any], role: str) -> None:
    # A typo (VIGIL_S3_ENDPOINT_URL) would make the process refuse to start.
    environment = effective_environment(compose["services"][role])

    assert set(environment) <= known_env_names()


@pytest.mark.parametrize("role", VIGIL_ROLES)
def test_the_environment_loads_as_production_settings(
    compose: dict[str, Any], role: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = secrets.token_urlsafe(48)
    environment = effective_environment(
        compose["services"][role], environ={**REQUIRED_SECRETS, "VIGIL_AUTH__SECRET_KEY": secret}
    )
    for name, value in environment.items():
        monkeypatch.setenv(name, value)

    settings = load_settings(_env_file=None)

    assert settings.env == "production"
    assert settings.effective_database_url.startswith("postgresql+psycopg://vigil:")
    assert settings.effective_database_url.endswith("@postgres:5432/vigil")
    assert settings.effective_bus_url == "nats://nats:4222"
    assert settings.effective_storage_url == "s3://vigil"
    assert settings.s3.endpoint_url == "http://minio:9000"
    assert settings.s3.access_key_id is not None
    assert settings.auth.secret_key.get_secret_value() == secret
    if role == "api":
        assert settings.http.workers == 4


def test_the_bucket_created_is_the_bucket_used(compose: dict[str, Any]) -> None:
    create = compose["services"]["createbucket"]
    storage_url = effective_environment(compose["services"]["api"])["VIGIL_STORAGE_URL"]

    assert create["depends_on"]["minio"]["condition"] == "service_healthy"
    assert create["command"][-1] == "local/" + storage_url.removeprefix("s3://").split("/")[0]


def test_credentials_match_between_minio_and_vigil(compose: dict[str, Any]) -> None:
    minio = effective_environment(compose["services"]["minio"], environ={})
    vigil = effective_environment(compose["services"]["api"])

    assert vigil["VIGIL_S3__ACCESS_KEY_ID"] == minio["MINIO_ROOT_USER"]
    assert vigil["VIGIL_S3__SECRET_ACCESS_KEY"] == minio["MINIO_ROOT_PASSWORD"]
    assert len(minio["MINIO_ROOT_PASSWORD"]) >= 8  # MinIO refuses to start otherwise


def test_declared_volumes_and_mounted_files_exist(compose: dict[str, Any]) -> None:
    declared = set(compose["volumes"])
    for name, service in compose["services"].items():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("."):
                assert (ROOT / source).is_file(), f"{name} mounts missing {source}"
            else:
                assert source in declared, f"{name} mounts undeclared volume {source}"


def test_prometheus_scrapes_the_api_and_every_worker(compose: dict[str, Any]) -> None:
    config = yaml.safe_load((ROOT / "grafana" / "prometheus.yml").read_text(encoding="utf-8"))
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    worker_port = int(
        effective_environment(compose["services"]["worker"])["VIGIL_WORKER__HEALTH_PORT"]
    )

    assert jobs["vigil-api"]["static_configs"][0]["targets"] == ["api:8000"]
    discovery = jobs["vigil-worker"]["dns_sd_configs"][0]
    assert (discovery["names"], discovery["port"]) == (["worker", "lake-sink"], worker_port)


# The image


def test_dockerfile_builds_one_unprivileged_image_with_vigil_as_entrypoint() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    instructions = [
        line.strip() for line in dockerfile.splitlines() if line and not line.startswith("#")
    ]
    users = [line.split()[1] for line in instructions if line.startswith("USER ")]

    assert re.search(r"^FROM python:3\.11-slim", dockerfile, re.MULTILINE)
    assert sum(line.startswith("FROM ") for line in instructions) == 1, "one stage, one image"
    assert users, "the image runs as root"
    assert users[-1] not in ("root", "0")
    assert 'ENTRYPOINT ["vigil"]' in instructions
    assert "ffmpeg" in dockerfile
    # The CPU wheel index, pinned, before the package: otherwise pip pulls CUDA.
    assert dockerfile.index("torch==2.13.0") < dockerfile.index("pip install /src")
    assert "--index-url https://download.pytorch.org/whl/cpu" in dockerfile


def test_dockerignore_keeps_secrets_and_local_state_out_of_the_image() -> None:
    ignored = set((ROOT / ".dockerignore").read_text(encoding="utf-8").split())

    assert {".env", ".venv", "var", ".git"} <= ignored


def test_prometheus_presents_the_scrape_token_vigil_accepts(compose: dict[str, Any]) -> None:
    config = yaml.safe_load((ROOT / "grafana" / "prometheus.yml").read_text(encoding="utf-8"))
    vigil_jobs = [job for job in config["scrape_configs"] if job["job_name"].startswith("vigil")]
    assert vigil_jobs
    for job in vigil_jobs:
        assert job["authorization"]["credentials_file"] == "/run/secrets/metrics_token"
    assert compose["secrets"]["metrics_token"] == {"environment": "VIGIL_METRICS__SCRAPE_TOKEN"}
    assert "metrics_token" in compose["services"]["prometheus"]["secrets"]
    for role in VIGIL_ROLES:
        raw = compose["services"][role]["environment"]["VIGIL_METRICS__SCRAPE_TOKEN"]
        assert raw.startswith("${VIGIL_METRICS__SCRAPE_TOKEN:?")
