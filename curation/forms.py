from django import forms


class ImportForm(forms.Form):
    file = forms.FileField(help_text="JSONL (one object per line) or CSV with a 'prompt' column.")
    format = forms.ChoiceField(
        choices=[("", "Detect from the file name"), ("jsonl", "JSONL"), ("csv", "CSV")], required=False
    )
    skip_bad_lines = forms.BooleanField(
        required=False, help_text="Import the good lines and list the bad ones, instead of importing nothing."
    )
