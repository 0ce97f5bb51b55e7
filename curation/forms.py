from django import forms


class ImportForm(forms.Form):
    file = forms.FileField(help_text="JSONL (one object per line) or CSV with a 'prompt' column.")
    format = forms.ChoiceField(
        choices=[("", "Detect from the file name"), ("jsonl", "JSONL"), ("csv", "CSV")], required=False
    )
    skip_bad_lines = forms.BooleanField(
        required=False, help_text="Import the good lines and list the bad ones, instead of importing nothing."
    )


class TokenForm(forms.Form):
    name = forms.CharField(max_length=100, help_text="What will use it, e.g. “training pipeline” or “Alice's notebook”.")


class SnapshotForm(forms.Form):
    name = forms.CharField(max_length=200)
    source = forms.ChoiceField(choices=[("stage", "A stage"), ("filter", "A review-queue filter")], initial="stage",
                               widget=forms.RadioSelect)
    stage = forms.ChoiceField(required=False)
    filter = forms.CharField(
        required=False, max_length=2000,
        help_text="The review queue's parameters, as in its URL: e.g. tier=hard&checks=passed",
    )
    seed = forms.IntegerField(initial=0, min_value=0, max_value=2**31 - 1)
    validation_fraction = forms.FloatField(initial=0.1, min_value=0, max_value=0.5,
                                           help_text="Share of prompts held out for validation (0 to 0.5).")
    include_soft_targets = forms.BooleanField(required=False, help_text="Inline the teacher's top-k soft targets in the Parquet files.")
    system_prompt = forms.CharField(required=False, max_length=10_000, widget=forms.Textarea(attrs={"rows": 2}),
                                    help_text="Chat format only: a system turn for prompts that have none.")

    def __init__(self, *args, stages=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["stage"].choices = [(s, s) for s in stages]
