"""The predictor must work where torch and transformers cannot even be imported."""

from tests.helpers import run_without_training_libraries


def test_predicting_imports_neither_torch_nor_transformers(bundle):
    result = run_without_training_libraries(
        f"""
        import senticlf
        from senticlf.cli import app  # the CLI module must not pull them in either
        clf = senticlf.load({str(bundle)!r})
        print(clf.predict(["a great film", "an awful film"]))
        """
    )
    assert result.returncode == 0, result.stderr
    assert "Prediction(label=" in result.stdout
