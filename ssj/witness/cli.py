"""`ssj witness`: run a witness as another organisation would (its own directory, key, state).

ssj witness init --dir /srv/witness --name witness.example.org/w1 [--suite sm2-sm3]
ssj witness trust --dir /srv/witness --origin ssj.local/ledger --key "<log verifier key>"
ssj witness serve --dir /srv/witness --port 8081
ssj witness show --dir /srv/witness
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ssj.cli.common import fail, out, print_json
from ssj.errors import SsjError
from ssj.ledger import note

witness_app = typer.Typer(
    help="运行见证方（C2SP tlog-witness）/ run a witness: its own key, state and database",
    no_args_is_help=True,
)

Directory = Annotated[
    Path,
    typer.Option(
        "--dir", envvar="SSJ_WITNESS_DIR", help="见证方目录（密钥与数据库）/ witness directory"
    ),
]


def _open(directory: Path) -> object:
    from ssj.witness.server import Witness

    try:
        return Witness(directory)
    except SsjError as e:
        fail(e)


@witness_app.command("init")
def init(
    directory: Directory,
    name: Annotated[str, typer.Option(help="见证方名称 / witness name, e.g. example.org/w1")],
    suite: Annotated[
        str, typer.Option(help="联署密码套件 / cosignature suite: ed25519-sha256 or sm2-sm3")
    ] = "ed25519-sha256",
) -> None:
    """生成见证方密钥与数据库 / create the witness's key and database; prints its public key."""
    from ssj.ledger import suite as suites
    from ssj.witness.server import Witness

    try:
        witness = Witness.create(directory, name, suites.get(suite))
    except (SsjError, note.NoteError) as e:
        fail(e)
    out.print(witness.verifier_key, highlight=False)


@witness_app.command("trust")
def trust(
    directory: Directory,
    origin: Annotated[str, typer.Option(help="日志来源 / the log's origin line")],
    key: Annotated[list[str], typer.Option(help="日志验证公钥（可多次）/ the log's verifier key")],
) -> None:
    """信任某日志的公钥 / trust these log keys for an origin (replaces earlier ones)."""
    from ssj.witness.server import Witness

    witness = _open(directory)
    assert isinstance(witness, Witness)
    try:
        witness.trust(origin, key)
    except (SsjError, note.NoteError) as e:
        fail(e)
    out.print(f"trusted {len(key)} key(s) for {origin}", highlight=False)


@witness_app.command("show")
def show(directory: Directory) -> None:
    """见证方状态 / the witness's key, logs and last cosigned sizes."""
    from ssj.witness.server import Witness

    witness = _open(directory)
    assert isinstance(witness, Witness)
    print_json(
        {
            "name": witness.cosigner.name,
            "key": witness.verifier_key,
            "logs": [
                {**log, "requests": witness.requests(log["origin"])} for log in witness.logs()
            ],
        }
    )


@witness_app.command("serve")
def serve(
    directory: Directory,
    host: Annotated[str, typer.Option(help="监听地址 / address")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="端口 / port")] = 8081,
) -> None:
    """运行见证方 HTTP 服务 / serve add-checkpoint (C2SP tlog-witness) over HTTP."""
    import uvicorn

    from ssj.witness.server import Witness, create_app

    witness = _open(directory)
    assert isinstance(witness, Witness)
    out.print(
        f"witness {witness.cosigner.name} on http://{host}:{port}/add-checkpoint\n"
        f"key {witness.verifier_key}",
        highlight=False,
    )
    uvicorn.run(create_app(witness), host=host, port=port, log_level="warning")
