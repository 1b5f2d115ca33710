"""The predictor must work where torch and transformers cannot even be imported."""

import subprocess
import sys
import textwrap


def test_predicting_imports_neither_torch_nor_transformers(bundle):
    script = textwrap.dedent(
        f"""
        import sys

        class Block:
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] in ("torch", "transformers", "optimum", "datasets"):
                    raise ImportError(f"blocked: {{name}}")

        sys.meta_path.insert(0, Block())
        import senticlf
        from senticlf.cli import app  # the CLI module must not pull them in either
        clf = senticlf.load({str(bundle)!r})
        print(clf.predict(["a great film", "an awful film"]))
        heavy = [m for m in sys.modules if m.split(".")[0] in ("torch", "transformers")]
        assert not heavy, heavy
        """
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "Prediction(label=" in result.stdout
