"""``python -m workers.demo``: build the demo teacher and student, write the demo import files."""

from __future__ import annotations

import argparse
import json
import sys

from workers.demo.corpus import write_import_files
from workers.demo.student import STUDENT_ARCH, STUDENT_INIT, STUDENT_INITS, build_demo_student
from workers.demo.teacher import TeacherRecipe, build_demo_teacher


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m workers.demo", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    teacher = commands.add_parser("teacher", help="train (or reuse) the demo teacher")
    teacher.add_argument("--out", required=True, help="cache directory of the teacher")
    teacher.add_argument("--steps", type=int, help="optimizer steps (default: the demo recipe's)")
    teacher.add_argument("--seed", type=int, default=0)
    teacher.add_argument("--force", action="store_true", help="retrain even when a matching cache exists")

    student = commands.add_parser("student", help="a fresh small student sharing the teacher's tokenizer")
    student.add_argument("--teacher", required=True, help="directory of a built demo teacher")
    student.add_argument("--out", required=True)
    student.add_argument("--layers", type=int, default=STUDENT_ARCH["n_layer"])
    student.add_argument("--dim", type=int, default=STUDENT_ARCH["n_embd"])
    student.add_argument("--heads", type=int, default=STUDENT_ARCH["n_head"])
    student.add_argument("--init", choices=STUDENT_INITS, default=STUDENT_INIT, help="where the embeddings start")

    corpus = commands.add_parser("corpus", help="write the triage and drafting import files (JSONL)")
    corpus.add_argument("--out", required=True)
    corpus.add_argument("--train", type=int, default=600, help="training prompts per project")
    corpus.add_argument("--gold", type=int, default=200, help="gold items per project")
    corpus.add_argument("--seed", type=int, default=0)

    args = parser.parse_args(argv)
    try:
        if args.command == "teacher":
            recipe = TeacherRecipe(steps=args.steps) if args.steps else None
            info = build_demo_teacher(args.out, seed=args.seed, force=args.force, recipe=recipe)
            print(
                f"gold triage accuracy: {info['gold_accuracy']:.1%} "
                f"({info['parameters'] / 1e6:.2f}M parameters, trained in {info['train_time_s']:.0f}s)"
            )
        elif args.command == "student":
            info = build_demo_student(
                args.teacher, args.out, n_layer=args.layers, n_embd=args.dim, n_head=args.heads, init=args.init
            )
            print(json.dumps(info, indent=2))
            print(
                f"student {info['parameters'] / 1e6:.2f}M parameters, "
                f"{info['latency_ratio']:.1f}x faster forward pass than the teacher"
            )
        else:
            paths = write_import_files(args.out, n_train=args.train, n_gold=args.gold, seed=args.seed)
            for name, path in paths.items():
                print(f"{name}: {path}")
    except (ValueError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
