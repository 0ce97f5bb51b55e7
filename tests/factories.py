import factory
from django.contrib.auth import get_user_model

from curation.models import Example, Job, Membership, Project, Prompt
from curation.normalize import content_hash


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)

    username = factory.Sequence(lambda n: f"user{n}")
    password = factory.django.Password("pw")


class ProjectFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Project

    name = factory.Sequence(lambda n: f"Project {n}")
    slug = factory.Sequence(lambda n: f"project-{n}")

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        return model_class.create_with_defaults(*args, **kwargs)


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Membership

    user = factory.SubFactory(UserFactory)
    project = factory.SubFactory(ProjectFactory)
    role = "reviewer"


class PromptFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Prompt

    project = factory.SubFactory(ProjectFactory)
    text = factory.Sequence(lambda n: f"Prompt number {n}?")
    content_hash = factory.LazyAttribute(lambda o: content_hash(o.text, None))


class ExampleFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Example

    prompt = factory.SubFactory(PromptFactory)
    project = factory.LazyAttribute(lambda o: o.prompt.project)
    stage = factory.LazyAttribute(lambda o: o.project.pool)
    response = factory.Sequence(lambda n: f"Answer {n}.")


class JobFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Job

    project = factory.SubFactory(ProjectFactory)
    kind = Job.Kind.GENERATE
