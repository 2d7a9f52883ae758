"""Copy a folder that `brevity train` wrote into the zoo as the registered member NAME: the manifest takes
the member's name and parent (the command as run and the folder it wrote stay in it), then the member is
validated as `brevity zoo build` would (`zoo/build.validate_member`). `brevity zoo build NAME` trains the
same member from its registry settings instead.

    python benchmarks/install_zoo_member.py brevity-runs/latent-mult-lsd/compact-5k tiny-mult-compact
"""

import json
import shutil
import sys
from pathlib import Path

from brevity.zoo.build import validate_member
from brevity.zoo.registry import MEMBERS, member_dir, register_weights

src, name = Path(sys.argv[1]), sys.argv[2]
member = MEMBERS[name]
dst = member_dir(name)
shutil.rmtree(dst, ignore_errors=True)
shutil.copytree(src, dst, ignore=shutil.ignore_patterns("stage-*", "val-*"))
path = dst / "manifest.json"
manifest = json.loads(path.read_text())
manifest.update(name=name, parent=member.parent, trained_as=str(src))
path.write_text(json.dumps(manifest, indent=2) + "\n")
register_weights(name, dst)
print(name, validate_member(name, n=500))
