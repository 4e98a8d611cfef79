"""Where the hub's state lives and which services it talks to: every env variable, one place."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

import departments


class HubSettings(BaseSettings):
    """The hub's configuration, read from `SANWANG_*` environment variables.

    Leave `kafka_bootstrap` / `database_url` empty to let `sanwang up` run Kafka and PostgreSQL
    locally; set them to use external services, and `up` starts none of them.
    """

    model_config = SettingsConfigDict(env_prefix="SANWANG_", frozen=True)

    home: Path = Field(Path(".sanwang"), description="State directory: data, logs, pid files.")
    cache: Path = Field(
        Path.home() / ".cache" / "sanwang",
        description="Cache shared by every state directory (the Kafka jars Maven fetched).",
    )
    departments_dir: Path = Field(
        Path(departments.__file__).parent,
        description="The departments' declarations (one TOML file each) and event schemas.",
    )
    kafka_bootstrap: str = Field("", description="External Kafka bootstrap servers, host:port,..")
    database_url: SecretStr = Field(SecretStr(""), description="External PostgreSQL URL (libpq).")
    kafka_port: int = Field(19092, description="Local broker's client port on 127.0.0.1.")
    kafka_controller_port: int = Field(19093, description="Local KRaft controller port.")
    kafka_jolokia_port: int = Field(19095, description="Local broker's read-only JMX over HTTP.")
    kafka_heap: str = Field("768m", description="Local broker's Java heap size.")
    postgres_port: int = Field(15432, description="Local PostgreSQL port on 127.0.0.1.")
    postgres_shared_buffers: str = Field("1GB", description="Local PostgreSQL's own page cache "
                                         "(shared_buffers; PostgreSQL's default is 128MB).")
    database: str = Field("sanwang", description="The hub's database on the local PostgreSQL.")
    prometheus_port: int = Field(19090, description="Local Prometheus port on 127.0.0.1.")
    processor_metrics_port: int = Field(19100, description="Processor's /metrics port.")
    connector_metrics_port: int = Field(19101, description="Connectors' /metrics port.")
    metrics_host: str = Field("127.0.0.1", description="Address the processor's and "
                              "connectors' /metrics listen on (0.0.0.0 in containers).")
    push_port: int = Field(19102, description="The HTTP push endpoint's port.")
    api_port: int = Field(19103, description="The query API's port (its /metrics too).")
    topic_prefix: str = Field("sanwang", description="Prefix of every topic and consumer group.")
    topic_partitions: int = Field(6, description="Partitions of each topic the hub creates.")
    processor_batch_size: int = Field(2000, ge=1, description="The most events a processor "
                                      "lands and merges in one transaction, when a backlog "
                                      "waits (live traffic makes smaller ones): larger merges "
                                      "faster, smaller holds fewer locks and redoes less after "
                                      "a crash.")
    task_due_days: dict[str, int] = Field(default_factory=dict, description="Days a "
                                          "department has to verify a grid report, by task kind"
                                          " (JSON object, e.g. {\"deceased\": 7}); kinds not "
                                          "named take task_due_days_default.")
    task_due_days_default: int = Field(15, ge=1, description="Days to verify a task whose kind "
                                       "task_due_days does not name.")
    small_cell_k: int = Field(3, ge=0, description="Analysts never see a count of 1..k for a "
                              "unit below the township level (indicators, warnings, exports): "
                              "an aggregate must not single a person out. 0: none withheld.")
    indicator_months: int = Field(36, ge=13, le=240, description="How many months (through "
                                  "the current one) `sanwang indicators refresh` computes; the "
                                  "early warnings need 13 (a year's baseline and the month).")
    indicator_refresh_seconds: int = Field(300, ge=0, description="How often a processor "
                                           "refreshes the indicators when the store changed "
                                           "(one worker at a time, and no sooner than ten "
                                           "times the last refresh's length); 0: only `sanwang "
                                           "indicators refresh` does.")
    reestimate_seconds: int = Field(60, ge=0, description="How often a processor looks "
                                    "whether to re-estimate the matching parameters from the "
                                    "store (when it has doubled, or changed and gone quiet; "
                                    "every record is then linked again with them); 0: only "
                                    "`sanwang estimate` does.")
    reestimate_min_records: int = Field(10_000, ge=2, description="The fewest records a "
                                        "processor re-estimates from: below it the shipped "
                                        "parameters (or `sanwang estimate`'s) stay.")
    id_keyring: SecretStr = Field(SecretStr(""), description="The ID-number keyring itself "
                                  "(JSON, as `sanwang ids add-key` writes it); else the file.")
    id_keyring_file: str = Field("", description="The ID-number keyring's file; empty: "
                                 "$SANWANG_HOME/secrets/id-keyring.json (`up` creates it).")
    kafka_principal: str = Field("", description="This process's SASL/SCRAM-SHA-256 user on "
                                 "the external Kafka (the local broker's come from secrets/).")
    kafka_password: SecretStr = Field(SecretStr(""), description="That user's password.")
    kafka_passwords: SecretStr = Field(SecretStr(""), description="On the external Kafka, "
                                       "the passwords of the principals a process publishes "
                                       "as besides that user, a JSON object (principal: "
                                       "password): the push endpoint serves every department "
                                       "that pushes, each publishing as itself.")
    kafka_security_protocol: str = Field("SASL_SSL", description="External Kafka's listener: "
                                         "SASL_SSL (TLS), or SASL_PLAINTEXT on a private network.")
    kafka_ssl_cafile: str = Field("", description="CA file that signed the external brokers' "
                                  "certificates (default: the system's CAs).")

    @property
    def external_kafka(self) -> bool:
        return bool(self.kafka_bootstrap)

    @property
    def external_database(self) -> bool:
        return bool(self.database_url.get_secret_value())

    @property
    def bootstrap_servers(self) -> str:
        return self.kafka_bootstrap or f"127.0.0.1:{self.kafka_port}"
